"""Horizon names <-> seconds: the engine's one table (``kHorizonUnits`` in
``ext/include/hallkpi/alerts.hpp``), exported by the extension and used everywhere.

A sliding horizon is named by the longest unit that divides it: 300 s is ``5m``, 3600 s
``1h``, 90 s ``90s``, 86400 s ``1d``. ``today`` is not a sliding horizon.
"""

from __future__ import annotations

from hallkpi.core import _engine
from hallkpi.core.errors import ConfigError

HORIZONS: dict[str, int] = dict(_engine.HORIZON_UNITS)
"""Seconds of each unit suffix, longest first: ``{"d": 86400, "h": 3600, "m": 60, "s": 1}``."""


def horizon_name(seconds: int) -> str:
    """The engine's name of a horizon of ``seconds`` (900 -> ``15m``)."""
    return _engine.horizon_name(int(seconds))


def horizon_seconds(name: str) -> int:
    """Seconds of a sliding horizon name (``15m`` -> 900): a positive whole number and a
    unit of :data:`HORIZONS`; ConfigError for anything else (``today``, ``900``, ``0m``)."""
    if not name or name[-1] not in HORIZONS:
        raise ConfigError(f"not a sliding horizon name: {name!r} (e.g. '15m', '1h')")
    try:
        return _engine.horizon_seconds(name)
    except ValueError:
        raise ConfigError(f"not a sliding horizon name: {name!r} (e.g. '15m', '1h')") from None
