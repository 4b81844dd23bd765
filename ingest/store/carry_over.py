"""The older events a restarted engine needs besides its range (``ts >= since``), read
as numpy columns like the range (:mod:`hallkpi.ingest.store.recovery`):

* the **carry-over**: events before the range that still hold state a KPI reads (the
  last event of each window and agent, tickets and calls never finished, opinions never
  resolved), up to :data:`CARRY_OVER_DAYS` back (opinions: any age);
* the **late arrivals**: events dated before the range that arrived after its first
  event (the live engine applied them in that order).

Each row is one event's first arrival (the row FINAL would keep), found without FINAL,
which reads and merges every id of its range. Carried-over rows are replayed without
their producer fields: they are a sparse pick of a producer's sequence, and the gap
detector would report the numbers between them as lost. Late arrivals keep theirs.
There are few such rows (thousands), so they come as Python rows, not Native blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.schema import EVENT_STRINGS
from hallkpi.ingest.store.sql import ident

CARRY_OVER_DAYS = 31
"""How far before the recovery range open tickets, calls, windows, agents and opinions
are looked for."""
NO_RANGE = (1 << 64) - 1
"""``first_seq`` when the range is empty: no event arrived after it began."""

# Older events that still hold state a KPI reads: the last event of each window and
# agent, tickets and calls never finished, opinions never resolved. Each subquery gives
# the rows' first arrivals (min ingest_seq of an event's copies: the row FINAL keeps),
# so none needs FINAL (which reads and merges every id of the range); the outer query
# then takes exactly those rows.
_OLD = (
    "ts < fromUnixTimestamp64Milli({since:Int64}) "
    "AND ts >= fromUnixTimestamp64Milli({carry_from:Int64})"
)
_FIRST = "ts, id, min(ingest_seq) AS seq"  # one row per event (hall, ts, id)
_DAY = "toDate(ts, {tz:String})"


def _carry_over(events: str, halls: str) -> str:
    """The first-arrival ``ingest_seq`` of the carry-over rows (parameters: since,
    carry_from, tz, halls)."""
    sets = [
        f"""SELECT argMax(seq, (ts, seq)) FROM (
    SELECT hall, `window`, {_FIRST} FROM {events} WHERE type LIKE 'window.%' AND {_OLD}{halls}
    GROUP BY hall, `window`, ts, id) GROUP BY hall, `window`""",
        f"""SELECT argMax(seq, (ts, seq)) FROM (
    SELECT hall, agent, {_FIRST} FROM {events} WHERE type = 'agent.state' AND {_OLD}{halls}
    GROUP BY hall, agent, ts, id) GROUP BY hall, agent""",
        f"""SELECT min(ingest_seq) FROM {events}
    WHERE type LIKE 'ticket.%' AND {_OLD}{halls} AND (hall, ticket, {_DAY}) IN (
      SELECT hall, ticket, {_DAY} AS day FROM {events} WHERE type LIKE 'ticket.%' AND {_OLD}{halls}
      GROUP BY hall, ticket, day
      HAVING countIf(type IN ('ticket.completed', 'ticket.no_show', 'ticket.cancelled')) = 0)
    GROUP BY hall, ts, id""",
        f"""SELECT min(ingest_seq) FROM {events}
    WHERE type LIKE 'call.%' AND {_OLD}{halls} AND (hall, `call`) IN (
      SELECT hall, `call` FROM {events} WHERE type LIKE 'call.%' AND {_OLD}{halls}
      GROUP BY hall, `call` HAVING countIf(type != 'call.queued') = 0)
    GROUP BY hall, ts, id""",
        f"""SELECT min(ingest_seq) FROM {events}
    WHERE type = 'opinion.submitted' AND ts < fromUnixTimestamp64Milli({{since:Int64}}){halls}
    AND (hall, opinion) NOT IN (SELECT hall, opinion FROM {events} WHERE type = 'opinion.resolved')
    GROUP BY hall, ts, id""",
    ]
    return "\n  UNION ALL ".join(sets)


def _late(events: str, halls: str) -> str:
    """The first-arrival ``ingest_seq`` of events dated before the range that arrived
    after its first event (parameters: since, carry_from, first, halls); an event
    with an older copy is not late."""
    return f"""SELECT min(ingest_seq) FROM {events} WHERE {_OLD}{halls}
    AND (hall, ts, id) IN (
      SELECT hall, ts, id FROM {events} WHERE {_OLD}{halls} AND ingest_seq >= {{first:UInt64}})
    GROUP BY hall, ts, id HAVING min(ingest_seq) >= {{first:UInt64}}"""


def read_older(
    store: Store,
    params: dict[str, Any],
    *,
    halls: Sequence[str] | None,
    producer: bool,
) -> dict[str, npt.NDArray[Any]] | None:
    """The carry-over and late rows as columns named as the range's (``ts``, ``hold_s``,
    ``talk_s``, ``ingest_seq``...), or None when there are none. ``params`` holds
    since, carry_from, tz, first (the range's first ``ingest_seq``, or
    :data:`NO_RANGE`) and halls."""
    events = store.table("events")
    hall_filter = "" if halls is None else " AND hall IN {halls:Array(String)}"
    late = "ingest_seq >= {first:UInt64}"
    strings = [ident(n) for n in EVENT_STRINGS]
    numbers = [
        "toUnixTimestamp64Milli(ts)",
        "score",
        "ifNull(hold_s, nan)",
        "ifNull(talk_s, nan)",
        "ingest_seq",
    ]
    names = [*EVENT_STRINGS, "ts", "score", "hold_s", "talk_s", "ingest_seq"]
    if producer:
        strings.append(f"if({late}, producer, '')")
        keep = f"{late} AND producer != ''"  # (epoch too: the engine wants it only with seq)
        numbers += [f"if({keep}, toInt64(seq), -1)", f"if({keep}, toInt64(epoch), 0)"]
        names[len(EVENT_STRINGS) : len(EVENT_STRINGS)] = ["producer"]
        names += ["seq", "epoch"]
    carried, arrived = _carry_over(events, hall_filter), _late(events, hall_filter)
    sql = (
        f"SELECT {', '.join(strings + numbers)} FROM {events}\n"
        f"WHERE ts < fromUnixTimestamp64Milli({{since:Int64}}){hall_filter} AND (\n"
        f"  (ingest_seq < {{first:UInt64}} AND ingest_seq IN (\n{carried}))\n"
        f"  OR ingest_seq IN ({arrived}))"
    )
    rows = store.rows(sql, {k: v for k, v in params.items() if "{" + k + ":" in sql})
    if not rows:
        return None
    values = list(zip(*rows, strict=True))
    out: dict[str, npt.NDArray[Any]] = {}
    n_strings = len(strings)
    for name, column in zip(names[:n_strings], values[:n_strings], strict=True):
        encoded = [v.encode() for v in column]
        out[name] = np.array(encoded, dtype=f"S{max(1, *map(len, encoded))}")
    dtypes = [np.int64, np.uint8, np.float64, np.float64, np.uint64, np.int64, np.int64]
    for name, column, dtype in zip(names[n_strings:], values[n_strings:], dtypes, strict=False):
        out[name] = np.array(column, dtype)
    return out
