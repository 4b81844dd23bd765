"""``deploy/mosquitto.conf`` rendered for a local broker (the tests' and ``make demo
MQTT=1``'s): the shipped settings, with the loopback port and the folder of the run,
and the password file, ACL and TLS listener switched on only when asked for. Without a
password file anonymous clients are allowed: a demo and test setting only, the
shipped file refuses them."""

from __future__ import annotations

import re
from pathlib import Path

DEPLOY_CONF = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto.conf"
"""The shipped file, in a source checkout (absent from a wheel)."""

_TLS_BLOCK = re.compile(r"^# --- TLS listener.*?^# --- end TLS listener[^\n]*\n", re.M | re.S)


def _set(text: str, key: str, value: str | None) -> str:
    """Replaces the line(s) starting with ``key`` by the directive's name and ``value``
    (None: removes them)."""
    line = "" if value is None else f"{key.split(maxsplit=1)[0]} {value}"
    out, n = re.subn(rf"^{re.escape(key)}( .*)?$", line, text, flags=re.M)
    if not n:
        raise ValueError(f"{DEPLOY_CONF.name} has no {key!r} line")
    return out


def render(
    text: str,
    port: int,
    workdir: Path,
    *,
    password_file: Path | None = None,
    acl_file: Path | None = None,
    tls: tuple[int, Path, Path] | None = None,
    run_as_root: bool = True,
) -> str:
    """``text`` (the shipped configuration) for a broker on ``127.0.0.1:port`` keeping
    its database in ``workdir``. ``tls`` = (port, cert, key) keeps the TLS listener on
    that loopback port, else it is cut out. ``run_as_root``: started as root, Mosquitto
    would switch to user ``mosquitto``, who cannot write ``workdir``."""
    if not _TLS_BLOCK.search(text):
        raise ValueError(f"{DEPLOY_CONF.name} lost its TLS listener block")
    if tls is None:
        text = _TLS_BLOCK.sub("", text)
    else:
        text = _set(text, "listener 8883", f"{tls[0]} 127.0.0.1")
        text = _set(text, "certfile", str(tls[1]))
        text = _set(text, "keyfile", str(tls[2]))
    text = _set(text, "listener 1883", f"{port} 127.0.0.1")
    text = _set(text, "persistence_location", f"{workdir}/")
    text = _set(text, "allow_anonymous", "false" if password_file else "true")
    text = _set(text, "password_file", str(password_file) if password_file else None)
    text = _set(text, "acl_file", str(acl_file) if acl_file and password_file else None)
    if run_as_root:
        text += "\n# local run: keep writing this run's folder when started as root\nuser root\n"
    return text
