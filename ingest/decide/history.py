"""The history the decision commands read from the store: SQL over ``events`` and
``hall_kpis`` for handle times, ratings, window buckets and arrivals per slot. Dates
and thresholds are bound parameters; only checked table names are interpolated."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hallkpi.core.decide.suggest import Bucket, HandleStats, RatingStats, SlotArrivals
from hallkpi.ingest.report.history_sql import row_source
from hallkpi.ingest.store.connection import Store

DAY_MS = 86_400_000


def day_start_ms(day: dt.date, timezone: str) -> int:
    """Epoch ms of local midnight at the start of ``day``."""
    return round(dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(timezone)).timestamp() * 1000)


def last_event_day(store: Store, timezone: str) -> dt.date | None:
    """The local day of the latest stored event (None for an empty store)."""
    rows = store.rows(
        f"SELECT toUnixTimestamp64Milli(max(ts)), count() FROM {store.table('events')}"
    )
    if not rows or not rows[0][1]:
        return None
    return dt.datetime.fromtimestamp(int(rows[0][0]) / 1000, ZoneInfo(timezone)).date()


def handle_stats(store: Store, lo: int, hi: int) -> list[HandleStats]:
    """Per hall, staff and service: cases, median, mean, and cases above the hall's
    median of the service (tickets paired as the engine pairs them)."""
    with_sql, from_sql = row_source("handles", store.table("events"), store.table("alerts"))
    sql = (
        f"{with_sql}SELECT x.hall, x.staff, x.service, count(), quantileExact(0.5)(x.v), "
        "avg(x.v), countIf(x.v > m.med), any(m.med), any(m.n)\n"
        f"FROM {from_sql} AS x\nINNER JOIN (SELECT hall, service, quantileExact(0.5)(v) AS med, "
        f"count() AS n FROM {from_sql} WHERE t >= {{lo:Int64}} AND t < {{hi:Int64}} "
        "GROUP BY hall, service) AS m ON x.hall = m.hall AND x.service = m.service\n"
        "WHERE x.t >= {lo:Int64} AND x.t < {hi:Int64} AND x.staff != ''\n"
        "GROUP BY x.hall, x.staff, x.service ORDER BY x.hall, x.staff, x.service"
    )
    return [
        HandleStats(h, st, sv, int(n), float(med), float(mean), int(above), float(hm), int(hn))
        for h, st, sv, n, med, mean, above, hm, hn in store.rows(sql, {"lo": lo, "hi": hi})
    ]


def rating_stats(store: Store, lo: int, hi: int) -> list[RatingStats]:
    """Per hall and staff: ratings and dissatisfied ratings (1-2), with the hall's."""
    where = (
        "type = 'ticket.rated' AND ts >= fromUnixTimestamp64Milli({lo:Int64}) "
        "AND ts < fromUnixTimestamp64Milli({hi:Int64})"
    )
    events = store.table("events")
    params = {"lo": lo, "hi": hi}
    halls = {
        h: (int(n), int(d))
        for h, n, d in store.rows(
            f"SELECT hall, count(), countIf(score IN (1, 2)) FROM {events} FINAL "
            f"WHERE {where} GROUP BY hall",
            params,
        )
    }
    return [
        RatingStats(h, st, int(n), int(d), *halls[h])
        for h, st, n, d in store.rows(
            f"SELECT hall, staff, count(), countIf(score IN (1, 2)) FROM {events} FINAL "
            f"WHERE {where} AND staff != '' GROUP BY hall, staff ORDER BY hall, staff",
            params,
        )
    ]


def buckets(store: Store, lo: int, hi: int, bucket_s: int, timezone: str) -> list[Bucket]:
    """Window open rate, pressure, open and paused windows of ``hall_kpis`` averaged
    per bucket of ``bucket_s`` seconds."""
    zone = ZoneInfo(timezone)
    sql = (
        "SELECT hall, intDiv(toUnixTimestamp64Milli(ts), {bucket_ms:Int64}) * {bucket_ms:Int64} "
        "AS b, avg(window_open_rate), avg(window_pressure), avg(open_windows), "
        f"avg(paused_windows)\nFROM {store.table('hall_kpis')} FINAL\n"
        "WHERE horizon = 'today' AND ts >= fromUnixTimestamp64Milli({lo:Int64}) "
        "AND ts < fromUnixTimestamp64Milli({hi:Int64})\nGROUP BY hall, b ORDER BY hall, b"
    )
    params = {"lo": lo, "hi": hi, "bucket_ms": bucket_s * 1000}
    return [
        Bucket(
            h,
            dt.datetime.fromtimestamp(int(b) / 1000, zone),
            None if rate is None else float(rate),
            float(pressure or 0.0),
            float(open_w or 0.0),
            float(paused or 0.0),
        )
        for h, b, rate, pressure, open_w, paused in store.rows(sql, params)
    ]


def slot_arrivals(
    store: Store, lo: int, hi: int, slot_minutes: int, timezone: str
) -> list[SlotArrivals]:
    """Tickets issued per hall, local day and slot of ``slot_minutes``."""
    sql = (
        "SELECT hall, toDate(toTimeZone(ts, {tz:String})) AS day, "
        "intDiv(toHour(toTimeZone(ts, {tz:String})) * 60 + toMinute(toTimeZone(ts, "
        "{tz:String})), {slot:UInt32}) * {slot:UInt32} AS minute, count()\n"
        f"FROM {store.table('events')} FINAL\nWHERE type = 'ticket.issued' "
        "AND ts >= fromUnixTimestamp64Milli({lo:Int64}) "
        "AND ts < fromUnixTimestamp64Milli({hi:Int64})\n"
        "GROUP BY hall, day, minute ORDER BY hall, day, minute"
    )
    params = {"lo": lo, "hi": hi, "tz": timezone, "slot": slot_minutes}
    return [SlotArrivals(h, d, int(m), int(n)) for h, d, m, n in store.rows(sql, params)]


def hall_handle_means(store: Store, lo: int, hi: int) -> dict[str, float]:
    """Mean handle time per hall over ``[lo, hi)``."""
    with_sql, from_sql = row_source("handles", store.table("events"), store.table("alerts"))
    sql = (
        f"{with_sql}SELECT hall, avg(v) FROM {from_sql} "
        "WHERE t >= {lo:Int64} AND t < {hi:Int64} GROUP BY hall"
    )
    return {h: float(v) for h, v in store.rows(sql, {"lo": lo, "hi": hi})}
