"""Time helpers of the reference model: panes, horizon names, local days and midnights."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_NAME_RE = re.compile(r"([1-9][0-9]*)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def horizon_name(seconds: int) -> str:
    """300 -> '5m', 900 -> '15m', 3600 -> '1h', 86400 -> '1d', 45 -> '45s'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def horizon_seconds(name: str) -> int:
    """Inverse of horizon_name ('15m' -> 900). Raises ValueError for other names."""
    match = _NAME_RE.fullmatch(name)
    if match is None:
        raise ValueError(f"not a sliding horizon name: {name!r}")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def _offset_s(tz: ZoneInfo, epoch_s: int) -> int:
    """UTC offset of ``tz`` at the instant ``epoch_s``, in whole seconds."""
    offset = datetime.fromtimestamp(epoch_s, UTC).astimezone(tz).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _offset_s_safe(tz: ZoneInfo, epoch_s: int) -> int:
    # datetime cannot represent local times past year 9999; tz rules are long settled there.
    clamped = min(max(epoch_s, -62135596800 + 86400), 253402300799 - 86400)
    return _offset_s(tz, clamped)


def local_day(tz: ZoneInfo, ts_ms: int) -> int:
    """Number of the local calendar day of ``ts_ms`` (days since 1970-01-01, local)."""
    epoch_s = ts_ms // 1000
    return (epoch_s + _offset_s_safe(tz, epoch_s)) // 86400


def local_midnight_ms(tz: ZoneInfo, ts_ms: int) -> int:
    """Epoch milliseconds of the local midnight that starts the day of ``ts_ms``.

    That is the first instant whose local date is that day: where a DST change skips
    midnight (America/Santiago), the day starts at the change; where it repeats the
    hour after midnight (America/Havana in November), at the first midnight.
    """
    return _day_start_s(tz, local_day(tz, ts_ms)) * 1000


@functools.lru_cache(maxsize=4096)
def _day_start_s(tz: ZoneInfo, day: int) -> int:
    lo, hi = day * 86400 - 30 * 3600, day * 86400 + 30 * 3600
    while lo < hi:  # first second whose local day is >= day (local days never go back)
        mid = (lo + hi) // 2
        if (mid + _offset_s_safe(tz, mid)) // 86400 >= day:
            hi = mid
        else:
            lo = mid + 1
    return lo
