"""Errors of hallkpi.ingest. One base class; specific errors also subclass a builtin."""

from __future__ import annotations

from hallkpi.core.errors import HallkpiError


class StoreError(HallkpiError):
    """Base class of every store error; messages never contain a password."""


class StoreConfigError(StoreError, ValueError):
    """A store URL, identifier, password source or option is wrong; says what to change."""


class StoreUnavailable(StoreError, ConnectionError):
    """The store could not be reached or refused the request (retry later)."""


class SpoolCorrupt(StoreError, ValueError):
    """A spool file holds a frame that fails its checksum before its last frame."""


class WriterBackpressure(StoreError, TimeoutError):
    """The writer's memory bound is reached and did not free up in time."""
