"""``Store``: one connection to the store (chDB in-process or a ClickHouse server) through
clickhouse-connect, connected lazily so a service starts (and spools) while the store
is down. Values are always bound server-side (``{name:Type}`` + ``parameters``).

:func:`wait_for_store` is how a service starts before its store: it retries (backoff
with jitter) until the store answers and has its schema, telling each new reason once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any, cast

from hallkpi.core.secrets import redact
from hallkpi.ingest.errors import StoreConfigError, StoreError, StoreUnavailable
from hallkpi.ingest.store.sql import qualified
from hallkpi.ingest.store.url import (
    StoreURL,
    parse_store_url,
    read_password,
    resolve_store_url,
)

log = logging.getLogger("hallkpi.ingest.store")

Parameters = Mapping[str, Any]


class Store:
    """A lazily connected store. ``password`` is kept out of repr, logs and errors.

    All SQL goes through :meth:`command`, :meth:`rows`, :meth:`raw` or
    :meth:`insert_native`, which bind ``parameters`` server-side; tests spy on
    :attr:`statements` (when set to a list) to check that no value is in the text.
    """

    def __init__(
        self,
        url: StoreURL | str,
        *,
        password: str | None = None,
        connect_timeout_s: float = 5.0,
        timeout_s: float = 300.0,
    ) -> None:
        self.url = parse_store_url(url) if isinstance(url, str) else url
        self._password = password
        self._connect_timeout_s = connect_timeout_s
        self._timeout_s = timeout_s
        self._client: Any = None
        self._lock = threading.Lock()
        self.statements: list[str] | None = None

    def __repr__(self) -> str:
        return f"Store({self.url.redacted()!r})"

    @property
    def database(self) -> str:
        return self.url.database

    def table(self, name: str) -> str:
        """The qualified, quoted name of a table of this store's database."""
        return qualified(self.url.database, name)

    def _connect(self) -> Any:
        import clickhouse_connect
        from clickhouse_connect.driver.exceptions import Error

        u = self.url
        try:
            if u.scheme == "chdb":
                return clickhouse_connect.get_client(dsn=f"chdb://{u.path}")
            return clickhouse_connect.get_client(
                host=u.host,
                port=u.port,
                username=u.user or "default",
                password=self._password or "",
                secure=u.scheme == "https",
                connect_timeout=self._connect_timeout_s,
                send_receive_timeout=self._timeout_s,
                query_retries=0,
                autogenerate_session_id=False,
            )
        except Error as exc:
            text = self._scrub(exc)
            if u.scheme == "chdb" and "already initialized with path" in text:
                raise StoreConfigError(
                    f"chDB opens one data directory per process; {u.path} is not the one "
                    f"already open ({text})"
                ) from None
            holder = chdb_holder(u.path) if u.scheme == "chdb" and u.path else None
            if holder is not None:  # chDB says only "Error initializing EmbeddedServer"
                raise StoreUnavailable(
                    f"the chDB directory {u.path} is in use by another process ({holder})"
                ) from None
            raise StoreUnavailable(f"cannot connect to {u}: {text}") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot connect to {u}: {self._scrub(exc)}") from None

    def client(self) -> Any:
        """The clickhouse-connect client, connecting first if needed."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
                log.debug("connected to %s", self.url)
            return self._client

    def _scrub(self, exc: BaseException) -> str:
        return redact(str(exc), self._password)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from clickhouse_connect.driver.exceptions import Error, OperationalError

        try:
            yield
        except OperationalError as exc:
            self.reset()
            raise StoreUnavailable(f"{what} on {self.url}: {self._scrub(exc)}") from None
        except Error as exc:
            raise StoreError(f"{what} on {self.url}: {self._scrub(exc)}") from None
        except OSError as exc:
            self.reset()
            raise StoreUnavailable(f"{what} on {self.url}: {self._scrub(exc)}") from None

    def _note(self, sql: str, parameters: Parameters | None = None) -> None:
        for name in parameters or {}:
            # Without a {name:Type} placeholder clickhouse-connect would format the
            # value into the text client-side: never let that happen.
            if not re.search(r"\{" + re.escape(name) + r":[^}]+\}", sql):
                raise StoreError(f"parameter {name!r} has no {{{name}:Type}} placeholder")
        if self.statements is not None:
            self.statements.append(sql)

    def command(self, sql: str, parameters: Parameters | None = None) -> Any:
        """Runs a statement (DDL, INSERT ... SELECT) with bound parameters."""
        self._note(sql, parameters)
        client = self.client()
        with self._errors("command failed"):
            return client.command(sql, parameters=dict(parameters or {}))

    def rows(
        self,
        sql: str,
        parameters: Parameters | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> list[tuple[Any, ...]]:
        """The result rows of a query with bound parameters."""
        self._note(sql, parameters)
        client = self.client()
        with self._errors("query failed"):
            result = client.query(sql, parameters=dict(parameters or {}), settings=settings)
            return cast(list[tuple[Any, ...]], result.result_rows)

    def raw(
        self,
        sql: str,
        parameters: Parameters | None = None,
        *,
        fmt: str = "Native",
        settings: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The raw result of a query in ``fmt`` (Native by default)."""
        self._note(sql, parameters)
        client = self.client()
        with self._errors("query failed"):
            return cast(
                bytes,
                client.raw_query(
                    sql, parameters=dict(parameters or {}), settings=settings, fmt=fmt
                ),
            )

    def stream(
        self,
        sql: str,
        parameters: Parameters | None = None,
        *,
        fmt: str = "Native",
        settings: Mapping[str, Any] | None = None,
    ) -> IO[bytes]:
        """A file-like raw result of a query in ``fmt``: read it to the end or close it."""
        self._note(sql, parameters)
        client = self.client()
        with self._errors("query failed"):
            return cast(
                IO[bytes],
                client.raw_stream(
                    sql, parameters=dict(parameters or {}), settings=settings, fmt=fmt
                ),
            )

    def insert_native(
        self, table: str, column_names: Sequence[str], block: bytes | memoryview
    ) -> None:
        """Inserts one Native-format payload into ``table`` (a bare table name)."""
        name = self.table(table)
        self._note(f"INSERT INTO {name} FORMAT Native")
        client = self.client()
        with self._errors(f"insert into {table} failed"):
            # Blocks never repeat a key (and FINAL/merges collapse what repeats across
            # blocks): collapsing at insert time would only cost (about half the insert).
            client.raw_insert(
                name,
                list(column_names),
                bytes(block),
                fmt="Native",
                settings={"optimize_on_insert": 0},
            )

    def ping(self) -> bool:
        """True when the store answers."""
        try:
            self.rows("SELECT 1")
        except StoreError:
            return False
        return True

    def reset(self) -> None:
        """Drops the connection; the next call reconnects."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # closing a broken connection must not raise
                log.debug("closing %s failed", self.url, exc_info=True)

    def close(self) -> None:
        self.reset()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chdb_holder(path: str) -> str | None:
    """Who holds the chDB directory ``path`` (``"pid N"``), or None when nobody does.
    ClickHouse keeps an exclusive ``flock`` on ``<path>/status`` while it runs."""
    try:
        fd = os.open(os.path.join(path, "status"), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            head = os.pread(fd, 256, 0).decode("utf-8", "replace")
            m = re.search(r"PID: *(\d+)", head)
            return f"pid {m.group(1)}" if m else "unknown pid"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class Backoff:
    """Exponential backoff with jitter: attempt ``n`` waits a random time between half
    and all of ``min(initial_s * 2**n, max_s)``, so that many services restarted
    together do not retry in step."""

    def __init__(
        self, initial_s: float = 0.5, max_s: float = 30.0, *, rng: random.Random | None = None
    ) -> None:
        if not 0 < initial_s <= max_s:
            raise ValueError("backoff wants 0 < initial_s <= max_s")
        self.initial_s, self.max_s = initial_s, max_s
        self._rng = rng or random.Random()
        self._attempt = 0

    def next(self) -> float:
        """The pause before the next attempt, in seconds."""
        ceiling = min(self.initial_s * 2 ** min(self._attempt, 60), self.max_s)
        self._attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._attempt = 0


_VOLATILE = (
    re.compile(r"\b0x[0-9a-fA-F]+\b"),  # object addresses
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),  # query ids
)
_CAUSES = (
    (re.compile(r"in use by another process \([^)]*\)"), None),  # kept as it is
    (re.compile(r"Connection refused", re.I), "connection refused"),
    (re.compile(r"timed? ?out", re.I), "no answer (timed out)"),
    (
        re.compile(r"Failed to resolve|Name or service not known|nodename nor servname"),
        "unknown host",
    ),
    (re.compile(r"CERTIFICATE_VERIFY_FAILED|SSLError|\bSSL\b"), "TLS handshake failed"),
    (
        re.compile(r"AUTHENTICATION_FAILED|Code: 516\b"),
        "authentication failed (check the password)",
    ),
    (re.compile(r"READONLY|Code: 164\b"), "the store is read-only"),
    (re.compile(r"ACCESS_DENIED|Code: 497\b"), "access denied to the user"),
)


def wait_reason(store: Store, exc: BaseException) -> str:
    """A short reason why ``store`` is not usable, stable across attempts (no query ids,
    no object addresses) and with no password: what a service logs and shows."""
    text = redact(str(exc), store._password)  # noqa: SLF001 (Store's own module: the password only redacts)
    for pattern, cause in _CAUSES:
        m = pattern.search(text)
        if m:
            if cause is None:
                return text
            return f"the store {store.url} is not usable: {cause}"
    for pattern in _VOLATILE:
        text = pattern.sub("...", text)
    return text if len(text) <= 300 else text[:297] + "..."


def wait_for_store(
    store: Store,
    *,
    stop: threading.Event | None = None,
    on_wait: Callable[[str], None] | None = None,
    prepare: Callable[[Store], object] | None = None,
    initial_s: float = 0.5,
    max_s: float = 30.0,
    rng: random.Random | None = None,
) -> bool:
    """Blocks until the store answers and ``prepare(store)`` (default: ``ensure_schema``)
    succeeds, then returns True; False when ``stop`` is set first. Between attempts it
    waits with :class:`Backoff` (``initial_s`` doubling up to ``max_s``, jittered).
    ``on_wait(reason)`` and the log hear each new reason once (a redacted, stable
    :func:`wait_reason`), not once an attempt. A configuration error (a second chDB
    directory in this process, a bad identifier) is raised at once: waiting would not
    mend it."""
    if prepare is None:
        from hallkpi.ingest.store.schema import ensure_schema  # (schema imports this module)

        prepare = ensure_schema
    backoff = Backoff(initial_s, max_s, rng=rng)
    reason: str | None = None
    while stop is None or not stop.is_set():
        try:
            prepare(store)
        except StoreConfigError:
            raise
        except StoreError as exc:
            new = wait_reason(store, exc)
            if new != reason:
                reason = new
                log.warning("%s; retrying (backoff up to %g s)", reason, max_s)
                if on_wait is not None:
                    on_wait(reason)
            pause = backoff.next()
            if stop is not None:
                stop.wait(pause)
            else:
                threading.Event().wait(pause)
            continue
        if reason is not None:
            log.info("the store %s answers", store.url)
        return True
    return False


def store_from_url(url: str) -> Store:
    """The Store of a URL (for the ``hallkpi.stores`` entry points): the password comes
    from ``HALLKPI_CLICKHOUSE_PASSWORD``."""
    return Store(resolve_store_url(url), password=read_password(None))
