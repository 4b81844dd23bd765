"""``hallkpi backtest-wait``: how well the quoted wait told the truth, on stored days.

The stored events are replayed in arrival order through an Engine, as the service sees
them. At every ``ticket.issued`` (appointments aside: they are called first, so a
walk-in's quote is the question) both quotes are taken just before the ticket is
applied: KPIS.md's ``est_wait_s`` and the predictor of :mod:`hallkpi.core.decide.quoted_wait`
(its per-hall state observed every ``observe_every_s`` of event time, as the service
does). The actual wait is the ticket's first call minus its issue; tickets never called
(cancelled, walked out) have none and are counted apart. Reported per quote: mean
absolute error, bias (quoted - actual, mean), share within +-5 minutes, and for the
predictor the share inside its p10..p90 band. ``--fit`` also fits the predictor's
``factor`` (least absolute error) and ``dispersion`` (band coverage closest to 80 %)::

    hallkpi backtest-wait --store chdb:///var/lib/hallkpi --days 7 [--fit]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
from hallkpi.core.decide.quoted_wait import (
    Z10,
    Z90,
    QuotedWaitSettings,
    WaitPredictor,
    gamma_quantile,
)
from hallkpi.core.engine import Engine
from hallkpi.core.errors import CommandError
from hallkpi.core.timezone import DEFAULT_TIMEZONE
from hallkpi.ingest.decide.history import day_start_ms
from hallkpi.ingest.decide.options import add_common, config_of, resolve_day
from hallkpi.ingest.errors import StoreError
from hallkpi.ingest.report.output import json_text, text_table
from hallkpi.ingest.store.cli_options import store_from_args
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.recovery import read_event_blocks
from hallkpi.ingest.store.schema import EVENT_STRINGS

WITHIN_S = 300.0
F64 = npt.NDArray[np.float64]


@dataclass
class Observations:
    """One row per quoted ticket that was called: the quotes and the actual wait."""

    hall: list[str] = field(default_factory=list)
    est: list[float] = field(default_factory=list)
    predicted: list[float] = field(default_factory=list)
    p10: list[float] = field(default_factory=list)
    p90: list[float] = field(default_factory=list)
    position: list[int] = field(default_factory=list)
    actual: list[float] = field(default_factory=list)
    not_called: int = 0


@dataclass(frozen=True)
class Score:
    name: str
    n: int
    mae_s: float
    bias_s: float
    within_5min: float
    band: float | None = None  # share inside p10..p90

    def row(self) -> list[Any]:
        return [
            self.name,
            self.n,
            round(self.mae_s / 60, 2),
            round(self.bias_s / 60, 2),
            round(self.within_5min, 3),
            None if self.band is None else round(self.band, 3),
        ]


def _events(block: dict[str, npt.NDArray[Any]]) -> list[dict[str, Any]]:
    n = len(block["ts"])
    cols = {k: block[k].tolist() for k in EVENT_STRINGS}
    ts, score = block["ts"].tolist(), block["score"].tolist()
    hold, talk = block["hold_s"].tolist(), block["talk_s"].tolist()
    out = []
    for i in range(n):
        e: dict[str, Any] = {k: v[i].decode() for k, v in cols.items() if v[i]}
        e["ts"] = ts[i]
        if score[i]:
            e["score"] = score[i]
        if not math.isnan(hold[i]):
            e["hold_s"] = hold[i]
        if not math.isnan(talk[i]):
            e["talk_s"] = talk[i]
        out.append(e)
    return out


def replay_quotes(
    store: Store,
    lo: int,
    hi: int,
    settings: QuotedWaitSettings,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    halls: Sequence[str] | None = None,
    appointments: bool = False,
) -> Observations:
    """Replays the events of ``[lo, hi)`` (with the older state they need) and collects
    the quotes of each issued ticket and its actual wait."""
    engine = Engine(timezone=timezone)
    predictor = WaitPredictor(settings)
    zone = ZoneInfo(timezone)
    every = int(settings.observe_every_s * 1000)
    obs = Observations()
    pending: dict[tuple[str, str], int] = {}  # quoted ticket -> its observation row
    issued: list[int] = []  # issue time of each observation row
    first_calls: dict[str, int] = {}
    called: set[tuple[str, str]] = set()
    day_of: dict[str, dt.date] = {}
    cancels: dict[str, int] = {}
    next_tick: int | None = None

    def _new_day(hall: str, ts: int) -> None:  # the engine's today counters restart
        day = dt.datetime.fromtimestamp(ts / 1000, zone).date()
        if day_of.get(hall) != day:
            day_of[hall], first_calls[hall], cancels[hall] = day, 0, 0

    only = None if halls is None else set(halls)
    # (the halls are filtered here: read_event_blocks(halls=...) sizes its fixed-width
    # strings on the selected halls, and ClickHouse may convert other rows first)
    for block in read_event_blocks(store, since_ms=lo, carry_over=True, timezone=timezone):
        for e in _events(block):
            ts, hall = int(e["ts"]), str(e["hall"])
            if ts >= hi or (only is not None and hall not in only):
                continue
            if ts >= lo:
                if next_tick is None:
                    next_tick = ts // every * every + every
                while ts >= next_tick:
                    for h, calls in first_calls.items():
                        g = engine.gauges(h)
                        predictor.observe(
                            h,
                            next_tick,
                            called_today=calls,
                            cancelled_today=cancels.get(h, 0),
                            waiting=g["waiting"],
                            open_windows=g["open_windows"],
                        )
                    next_tick += every
            etype, ticket = e["type"], e.get("ticket", "")
            if etype == "ticket.issued":
                key = (hall, ticket)
                called.discard(key)
                pending.pop(key, None)
                if ts >= lo and (appointments or e.get("channel") != "appointment"):
                    g = engine.gauges(hall)
                    q = predictor.quote(hall, g)
                    pending[key] = len(obs.est)
                    issued.append(ts)
                    obs.hall.append(hall)
                    obs.est.append(float(g["est_wait_s"]))
                    obs.predicted.append(q.wait_s)
                    obs.p10.append(q.p10_s)
                    obs.p90.append(q.p90_s)
                    obs.position.append(int(g["waiting"]) + 1)
                    obs.actual.append(float("nan"))
            elif etype == "ticket.called" and (hall, ticket) not in called:
                called.add((hall, ticket))
                _new_day(hall, ts)
                first_calls[hall] += 1
                row = pending.pop((hall, ticket), None)
                if row is not None:
                    obs.actual[row] = (ts - issued[row]) / 1000
            elif etype == "ticket.cancelled":
                _new_day(hall, ts)
                cancels[hall] += 1
            try:
                engine.push(e)
            except ValueError:
                continue
    return _finish(obs)


def _finish(obs: Observations) -> Observations:
    keep = [i for i, a in enumerate(obs.actual) if not math.isnan(a)]
    out = Observations(not_called=len(obs.actual) - len(keep))
    for name in ("hall", "est", "predicted", "p10", "p90", "position", "actual"):
        values = getattr(obs, name)
        setattr(out, name, [values[i] for i in keep])
    return out


def score(
    name: str, quoted: F64, actual: F64, lo: F64 | None = None, hi: F64 | None = None
) -> Score:
    err = quoted - actual
    band = None
    if lo is not None and hi is not None and len(actual):
        band = float(np.mean((actual >= lo) & (actual <= hi)))
    if not len(err):
        return Score(name, 0, float("nan"), float("nan"), float("nan"), band)
    return Score(
        name,
        len(err),
        float(np.mean(np.abs(err))),
        float(np.mean(err)),
        float(np.mean(np.abs(err) <= WITHIN_S)),
        band,
    )


def scores(obs: Observations, hall: str | None = None) -> list[Score]:
    sel = np.array([hall is None or h == hall for h in obs.hall], bool)
    a = np.asarray(obs.actual, float)[sel]
    return [
        score("est_wait_s", np.asarray(obs.est, float)[sel], a),
        score(
            "predictor",
            np.asarray(obs.predicted, float)[sel],
            a,
            np.asarray(obs.p10, float)[sel],
            np.asarray(obs.p90, float)[sel],
        ),
    ]


def fit(obs: Observations, settings: QuotedWaitSettings) -> QuotedWaitSettings:
    """The ``factor`` with the least absolute error and the ``dispersion`` whose band
    covers closest to 80 % (grid search over the replayed quotes)."""
    if not obs.actual:
        return settings
    a = np.asarray(obs.actual, float)
    base = np.asarray(obs.predicted, float) / settings.factor
    factors = np.round(np.arange(0.7, 1.61, 0.01), 2)
    best = min(factors, key=lambda f: float(np.mean(np.abs(f * base - a))))
    mean = best * base
    k = np.asarray(obs.position, float)

    def coverage(phi: float) -> float:
        shape = k / phi
        lo = mean * np.array([gamma_quantile(s, Z10) for s in shape]) / shape
        hi = mean * np.array([gamma_quantile(s, Z90) for s in shape]) / shape
        return float(np.mean((a >= lo) & (a <= hi)))

    phis = np.round(np.arange(0.5, 6.01, 0.25), 2)
    phi = min(phis, key=lambda p: abs(coverage(float(p)) - 0.8))
    return replace(settings, factor=float(best), dispersion=float(phi))


HEADERS = ["quote", "tickets", "mae_min", "bias_min", "within_5min", "in_p10_p90"]


def run(args: argparse.Namespace) -> int:
    config = config_of(args.config)
    timezone = args.timezone or config.timezone
    try:
        ZoneInfo(timezone)
        settings = QuotedWaitSettings.from_config(config.raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    with store_from_args(args) as store:
        try:
            last = resolve_day(store, args.date, timezone)
            lo = day_start_ms(last - dt.timedelta(days=args.days - 1), timezone)
            hi = day_start_ms(last + dt.timedelta(days=1), timezone)
            obs = replay_quotes(store, lo, hi, settings, timezone=timezone, halls=args.hall)
        except StoreError as exc:
            raise CommandError(str(exc)) from exc
    halls = sorted(set(obs.hall))
    first = last - dt.timedelta(days=args.days - 1)
    title = f"quoted vs actual wait, {first} .. {last} ({timezone}), walk-ins called"
    fitted = fit(obs, settings) if args.fit else None
    if args.format == "json":
        doc: dict[str, Any] = {
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
            "not_called": obs.not_called,
            "all": [dict(zip(HEADERS, s.row(), strict=True)) for s in scores(obs)],
            "halls": {
                h: [dict(zip(HEADERS, s.row(), strict=True)) for s in scores(obs, h)] for h in halls
            },
        }
        if fitted is not None:
            doc["fit"] = {"factor": fitted.factor, "dispersion": fitted.dispersion}
        text = json_text(doc)
    else:
        rows = [["all", *s.row()] for s in scores(obs)]
        rows += [[h, *s.row()] for h in halls for s in scores(obs, h)]
        text = f"{title}\n\n{text_table(['hall', *HEADERS], rows)}\n"
        text += f"\n{obs.not_called} quoted tickets were never called (cancelled or gone)\n"
        if fitted is not None:
            text += (
                f"\nfitted: [quoted_wait] factor = {fitted.factor:g}, "
                f"dispersion = {fitted.dispersion:g}\n"
            )
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "backtest-wait",
        help="quoted vs actual waits on stored days: est_wait_s and the predictor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--date", metavar="YYYY-MM-DD", help="last day (default: the latest stored)")
    p.add_argument("--days", type=int, default=7, metavar="N", help="days up to --date (7)")
    p.add_argument("--hall", action="append", metavar="HALL", help="only this hall (repeatable)")
    p.add_argument("--fit", action="store_true", help="also fit factor and dispersion")
    add_common(p, ("table", "json"))
    p.set_defaults(func=run)
