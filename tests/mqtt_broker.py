"""A real Mosquitto broker for tests, on a free loopback port (never a mock).

Its configuration is the shipped ``deploy/mosquitto.conf`` (``mode="deploy"``),
rendered with the test's port and folder; the password file and ACL are switched on
only when the test gives ``users``, the TLS listener only with ``tls=True``. Or
Mosquitto's defaults (``mode="defaults"``): a listener and ``persistence true``,
nothing else (anonymous clients allowed, as a demo would). Either way ``user root``
is added: started as root, Mosquitto would switch to user ``mosquitto``, who cannot
write the persistence database into the test's folder.

Debian's `mosquitto` package is installed by `make test` when missing; tests that need
a broker skip with a clear message when it is absent anyway.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hallkpi.ingest.service.mosquitto_conf import render

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def render_deploy_config(
    port: int,
    workdir: Path,
    *,
    password_file: Path | None = None,
    acl_file: Path | None = None,
    tls: tuple[int, Path, Path] | None = None,
) -> str:
    """``deploy/mosquitto.conf`` for a test (see :mod:`hallkpi.ingest.service.mosquitto_conf`)."""
    text = (DEPLOY / "mosquitto.conf").read_text()
    return render(text, port, workdir, password_file=password_file, acl_file=acl_file, tls=tls)


def render_defaults_config(port: int, workdir: Path) -> str:
    """Mosquitto's defaults: a listener and persistence, nothing tuned."""
    return (
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"  # (2.x refuses anonymous clients once a listener is set)
        "persistence true\n"
        f"persistence_location {workdir}/\n"
        "user root\n"
    )


@dataclass
class Broker:
    """One Mosquitto process with persistence in ``workdir`` (sessions survive restarts).
    ``users`` (name -> password) switches on the password file and the ACL."""

    workdir: Path
    port: int
    mode: Literal["deploy", "defaults"] = "deploy"
    users: dict[str, str] | None = None
    tls: tuple[int, Path, Path] | None = None
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def password_file(self) -> Path:
        return self.workdir / "passwd"

    def write_passwords(self) -> None:
        """(Re)writes the password file from ``users`` with mosquitto_passwd."""
        assert self.users is not None
        tool = shutil.which("mosquitto_passwd")
        if tool is None:
            raise RuntimeError("mosquitto_passwd is missing (package mosquitto)")
        self.password_file.unlink(missing_ok=True)
        self.password_file.touch(mode=0o600)
        for user, password in self.users.items():
            subprocess.run(
                [tool, "-b", str(self.password_file), user, password],
                check=True,
                capture_output=True,
                timeout=30,
            )

    def config(self) -> str:
        if self.mode == "defaults":
            return render_defaults_config(self.port, self.workdir)
        if self.users is not None:
            self.write_passwords()
        return render_deploy_config(
            self.port,
            self.workdir,
            password_file=self.password_file if self.users is not None else None,
            acl_file=DEPLOY / "acl",
            tls=self.tls,
        )

    def start(self) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed (make test installs it with apt-get)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config())
        with self.log.open("ab") as log:  # a file, not a pipe nobody reads (it would fill)
            self.process = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # bounded wait for the listener
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening within 10 s")

    def reload(self) -> None:
        """Rewrites the password file and has Mosquitto read it again (SIGHUP)."""
        self.write_passwords()
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGHUP)

    def stop(self, *, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
