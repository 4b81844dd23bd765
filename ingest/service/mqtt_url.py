"""MQTT broker URLs: ``mqtt://[user@]host[:1883]`` or ``mqtts://[user@]host[:8883]``.
Passwords never come in the URL: from ``HALLKPI_MQTT_PASSWORD`` or a file."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass

from hallkpi.core.secrets import parse_server_url, read_secret_file

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
    """``mqtt://[user@]host[:1883]`` or ``mqtts://[user@]host[:8883]``; ConfigError on
    anything else, and on a password in the URL (the rule of ``core/secrets.py``)."""
    server = parse_server_url(
        url,
        {"mqtt": (1883, False), "mqtts": (8883, True)},
        what="MQTT",
        password_hint=f"use ${PASSWORD_ENV} or --mqtt-password-file",
    )
    return MqttURL(server.host, server.port, server.tls, server.username)


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
