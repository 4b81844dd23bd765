"""Where the store is: ``chdb:///dir`` (embedded chDB) or ``http(s)://user@host:8123/db``.

The URL never carries a password: it comes from ``HALLKPI_CLICKHOUSE_PASSWORD`` or
from a file (``--password-file``), and only :func:`redact`-ed text reaches logs and
error messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from hallkpi.core.errors import ConfigError
from hallkpi.core.secrets import read_secret_file, redact, url_has_password
from hallkpi.ingest.errors import StoreConfigError
from hallkpi.ingest.store.sql import check_ident

STORE_ENV = "HALLKPI_STORE"
PASSWORD_ENV = "HALLKPI_CLICKHOUSE_PASSWORD"
DEFAULT_DATABASE = "hallkpi"
_DEFAULT_PORTS = {"http": 8123, "https": 8443}

Scheme = Literal["chdb", "http", "https"]


@dataclass(frozen=True)
class StoreURL:
    """A parsed store URL (without any password). ``path`` is the chDB data directory
    (absolute); ``host``/``port``/``user`` are for a ClickHouse server."""

    scheme: Scheme
    database: str = DEFAULT_DATABASE
    path: str | None = None
    host: str | None = None
    port: int | None = None
    user: str | None = None

    def redacted(self) -> str:
        """The URL as text; it holds no password, so it is safe to log."""
        if self.scheme == "chdb":
            query = "" if self.database == DEFAULT_DATABASE else f"?database={self.database}"
            return f"chdb://{self.path}{query}"
        user = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}/{self.database}"

    def __str__(self) -> str:
        return self.redacted()


def parse_store_url(url: str) -> StoreURL:
    """Parses ``chdb:///abs/dir[?database=NAME]``, ``chdb://relative/dir`` or
    ``http(s)://[user@]host[:port][/database]``; raises StoreConfigError."""
    shown = redact(url)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("chdb", "http", "https"):
        raise StoreConfigError(
            f"store URL {shown!r}: use chdb:///path/to/dir or http(s)://user@host:8123/database"
        )
    if scheme == "chdb":
        where, _, query = rest.partition("?")
        params = _query(query, shown, allowed={"database"})
        if not where:
            raise StoreConfigError(f"store URL {shown!r}: give the chDB data directory")
        head = where.partition("/")[0]
        if "@" in head or ":" in head or url_has_password(url):
            # chdb://user:pw@/dir would otherwise open a directory named after the
            # credentials (and print them wherever the path goes).
            raise StoreConfigError(
                f"store URL {shown!r}: chDB is embedded and has no users or passwords; "
                "remove the 'user@' part (chdb:///path/to/dir)"
            )
        database = check_ident(params.get("database", DEFAULT_DATABASE), "database")
        return StoreURL("chdb", database=database, path=os.path.realpath(unquote(where)))
    parts = urlsplit(url)
    if url_has_password(url):
        raise StoreConfigError(
            f"store URL {shown!r} contains a password: remove it and set {PASSWORD_ENV} "
            "or use --password-file"
        )
    _query(parts.query, shown, allowed=set())
    if not parts.hostname:
        raise StoreConfigError(f"store URL {shown!r}: no host")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise StoreConfigError(f"store URL {shown!r}: the port must be a number") from None
    name = unquote(parts.path.strip("/")) or DEFAULT_DATABASE
    return StoreURL(
        "https" if scheme == "https" else "http",
        database=check_ident(name, "database"),
        host=parts.hostname,
        port=port,
        user=unquote(parts.username) if parts.username else None,
    )


def _query(query: str, shown: str, *, allowed: set[str]) -> dict[str, str]:
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = set(params) - allowed
    if unknown:
        raise StoreConfigError(f"store URL {shown!r}: unknown options {sorted(unknown)}")
    return params


def resolve_store_url(url: str | None, env: Mapping[str, str] | None = None) -> StoreURL:
    """The store from ``--store`` or else ``HALLKPI_STORE``."""
    env = os.environ if env is None else env
    chosen = url or env.get(STORE_ENV)
    if not chosen:
        raise StoreConfigError(f"no store: give --store URL or set {STORE_ENV}")
    return parse_store_url(chosen)


def read_password(password_file: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The ClickHouse password: the first line of ``password_file``, else
    ``HALLKPI_CLICKHOUSE_PASSWORD``, else None. The file is refused when other users may
    read it (``core/secrets.py``)."""
    if password_file:
        try:
            return read_secret_file(password_file, "ClickHouse password")
        except ConfigError as exc:
            raise StoreConfigError(str(exc)) from exc
    env = os.environ if env is None else env
    return env.get(PASSWORD_ENV) or None
