"""MQTT broker URLs: ``mqtt://[user@]host[:1883]`` or ``mqtts://[user@]host[:8883]``.
Passwords never come in the URL: from ``HALLKPI_MQTT_PASSWORD`` or a file."""

from __future__ import annotations

import os
import ssl
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


def mqtt_password(password_file: str | None) -> str | None:
    """The broker password: first line of ``password_file``, else $HALLKPI_MQTT_PASSWORD."""
    if password_file:
        try:
            return Path(password_file).read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError) as exc:
            raise ConfigError(f"cannot read the MQTT password file {password_file}") from exc
    return os.environ.get(PASSWORD_ENV)


def tls_context(
    ca: str | None = None, cert: str | None = None, key: str | None = None
) -> ssl.SSLContext:
    """A client TLS context (system CAs unless ``ca`` is given; client cert optional)."""
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx
