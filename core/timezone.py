"""UTC offset segments of an IANA time zone, for the engine's local midnights.

The engine (C++) knows a zone as a sorted list of ``(utc_ms, offset_ms)`` segments.
They are found here with :mod:`zoneinfo` by sampling offsets daily from 1970 to 2100
and bisecting each change to the millisecond.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hallkpi.core.errors import ConfigError

DEFAULT_TIMEZONE = "Asia/Shanghai"
"""The zone of a hall whose configuration names none (one source for every default)."""

_START = datetime(1970, 1, 1, tzinfo=UTC)
_DAYS = (datetime(2100, 1, 1, tzinfo=UTC) - _START).days


def _offset_ms(zone: ZoneInfo, utc_ms: int) -> int:
    moment = _START + timedelta(milliseconds=utc_ms)
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds() * 1000)


@functools.lru_cache(maxsize=32)
def tz_segments(name: str) -> tuple[tuple[int, int], ...]:
    """Offset segments of zone ``name``: ``((start_utc_ms, offset_ms), ...)``, sorted."""
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"unknown time zone {name!r}: use an IANA name such as {DEFAULT_TIMEZONE!r} "
            "(install the 'tzdata' package if the system has no zone database)"
        ) from exc
    day = 86_400_000
    segments = [(0, _offset_ms(zone, 0))]
    previous = segments[0][1]
    for i in range(1, _DAYS + 1):
        t = i * day
        off = _offset_ms(zone, t)
        if off == previous:
            continue
        lo, hi = t - day, t  # offset(lo) == previous != offset(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset_ms(zone, mid) == previous:
                lo = mid
            else:
                hi = mid
        segments.append((hi, off))
        previous = off
    return tuple(segments)
