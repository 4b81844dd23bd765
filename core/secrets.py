"""Secrets and server URLs: the one rule of every hallkpi URL and secret file.

Every hallkpi URL (store, MQTT broker, AMI server) names a server and maybe a user,
never a password: a password in a URL shows in process lists, shell history and logs.
Passwords come from a secret file or the environment. A secret file is refused when
its group or other users may access it (a secret others can read is no secret), and
only its first line is the secret.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hallkpi.core.errors import ConfigError

# user:password@ right after the scheme; the password may hold '/' (it ends at '@').
_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^@\s]*@")


def url_has_password(url: str) -> bool:
    """Whether ``url`` (any scheme) carries a password (``user:password@``)."""
    if _CREDENTIALS.match(url):  # also a password with '/' (urlsplit cuts it at the '/')
        return True
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def redact(text: str, secret: str | None = None) -> str:
    """``text`` with any ``scheme://user:password@`` credentials and ``secret`` masked."""
    out = _CREDENTIALS.sub(r"\g<head>:***@", text)
    if secret:
        out = out.replace(secret, "***")
    return out


@dataclass(frozen=True)
class ServerURL:
    """A parsed ``scheme://[user@]host[:port]``; ``tls`` when the scheme says so."""

    scheme: str
    host: str
    port: int
    tls: bool
    username: str | None


def parse_server_url(
    url: str, schemes: Mapping[str, tuple[int, bool]], *, what: str, password_hint: str
) -> ServerURL:
    """Parses a server URL whose scheme is one of ``schemes`` (scheme -> (default
    port, tls)). Raises :class:`ConfigError` naming ``what`` on another scheme, a
    password in the URL (``password_hint`` says where the password goes instead), a
    missing host or a bad port."""
    scheme = url.split("://", maxsplit=1)[0] if "://" in url else ""
    if scheme not in schemes:
        known = " or ".join(f"{s}://" for s in schemes)
        raise ConfigError(f"{what} URL must start with {known}, got {scheme or url!r}")
    if url_has_password(url):
        raise ConfigError(f"put no password in the {what} URL: {password_hint}")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigError(f"the {what} URL needs a host")
    default_port, tls = schemes[scheme]
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise ConfigError(f"bad port in the {what} URL: {exc}") from exc
    user = unquote(parts.username) if parts.username else None
    return ServerURL(scheme, parts.hostname, port, tls, user)


def read_secret_file(path: str | Path, what: str) -> str:
    """The first line of the secret file ``path`` (``what`` names it in errors).
    Raises :class:`ConfigError` when it cannot be read, is empty, or its group or other
    users have any access to it."""
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
