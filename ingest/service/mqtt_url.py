"""MQTT broker URLs: ``mqtt://[user@]host[:1883]`` or ``mqtts://[user@]host[:8883]``.
Passwords never come in the URL: from ``HALLKPI_MQTT_PASSWORD`` or a file."""

from __future__ import annotations

import os
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hallkpi.core.errors import ConfigError

PASSWORD_ENV = "HALLKPI_MQTT_PASSWORD"


@dataclass(frozen=True)
class MqttURL:
    host: str
    port: int
    tls: bool
    username: str | None

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttURL:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ConfigError(
            f"MQTT URL must start with mqtt:// or mqtts://, got {url.split('://', maxsplit=1)[0]!r}"
        )
    if parts.password is not None:
        raise ConfigError(
            f"put no password in the MQTT URL: use ${PASSWORD_ENV} or --mqtt-password-file"
        )
    if not parts.hostname:
        raise ConfigError("the MQTT URL needs a host")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ConfigError(f"bad port in MQTT URL: {exc}") from exc
    user = unquote(parts.username) if parts.username else None
    return MqttURL(parts.hostname, port, tls, user)


def read_secret_file(path: str | Path, what: str) -> str:
    """The first line of a secret file, refused when other users may read it (a secret
    readable by the group or the world is no secret)."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {p}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the {what} file {p} is accessible to other users (mode {stat.filemode(mode)}): "
            f"chmod 600 {p}"
        )
    if not lines or not lines[0]:
        raise ConfigError(f"the {what} file {p} is empty")
    return lines[0]


def mqtt_password(password_file: str | None) -> str | None:
    """The broker password: first line of ``password_file``, else $HALLKPI_MQTT_PASSWORD.
    Read again at every connection attempt by the service (a rotated file is used)."""
    if password_file:
        return read_secret_file(password_file, "MQTT password")
    return os.environ.get(PASSWORD_ENV)


def tls_context(
    ca: str | None = None, cert: str | None = None, key: str | None = None
) -> ssl.SSLContext:
    """A client TLS context (system CAs unless ``ca`` is given; client cert optional)."""
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx
