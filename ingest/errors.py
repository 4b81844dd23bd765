"""Errors of hallkpi.ingest. One base class; specific errors also subclass a builtin."""

from __future__ import annotations

from hallkpi.core.errors import ConfigError, HallkpiError


class StoreError(HallkpiError):
    """Base class of every store error; messages never contain a password."""


class StoreConfigError(StoreError, ConfigError):
    """A store URL, identifier, password source or option is wrong; says what to change."""


class StoreUnavailable(StoreError, ConnectionError):
    """The store could not be reached or refused the request (retry later)."""


class SpoolCorrupt(StoreError, ValueError):
    """A spool file holds a frame that fails its checksum before its last frame."""


class WriterBackpressure(StoreError, TimeoutError):
    """The writer's memory bound is reached and did not free up in time."""


class StoreBlocked(StoreError):
    """Rows cannot be made durable now: nothing is lost, they wait in memory or in the
    spool, and the writer keeps retrying. The acknowledgement (``flush``) raises it so
    that nothing is acknowledged that is neither in the store nor in the spool."""


class StoreRefusesWrites(StoreBlocked):
    """The store answers but refuses every write (read-only, rights, a missing table,
    its own disk full). Blocks are kept in the spool, not acknowledged, until it takes
    writes again."""


class SpoolDiskFull(StoreBlocked, OSError):
    """The spool cannot be written (disk full, or another OS error) while the store is
    unreachable: blocks wait in memory until either comes back."""
