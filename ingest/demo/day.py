"""The in-process demo day: the simulator pushed into an Engine second by second at
accelerated time, the store written behind it (see :mod:`hallkpi.ingest.demo.cli`).

:class:`DayRun` holds the day: every simulated second it pushes the events due, advances
the engine clock and stores applied events, alert changes and (every
``kpi_interval_s``) KPI rows. :func:`drive` paces it against real time and calls the
display; :func:`run_in_process` puts the two together with the live wall or the
headless progress lines.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from hallkpi.core import Engine, InvalidEvent
from hallkpi.core.sim.simulate import hall_name, iter_simulate
from hallkpi.core.timezone import DEFAULT_TIMEZONE
from hallkpi.ingest.demo.wall import WallState, progress_line, render_wall
from hallkpi.ingest.store.batch import ArrivalClock
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.jsonl import events_to_columns
from hallkpi.ingest.store.schema import ensure_schema
from hallkpi.ingest.store.spool import Spool
from hallkpi.ingest.store.writer import StoreWriter
from rich.console import Console
from rich.live import Live

OPENS, CLOSES = dt.time(7, 30), dt.time(18, 30)
DAY_S = 11 * 3600
DEFAULT_SPEED = DAY_S / 60  # 660: the simulated day in about a minute
WALL_PERIOD_S = 0.25  # the wall is redrawn four times a second
FRAME_S = 0.02  # real time between pacing checks


@dataclass
class DemoOptions:
    data: Path = Path("hallkpi-data")
    halls: int = 6
    date: str = "2026-11-27"
    seed: int = 7
    speed: float = DEFAULT_SPEED  # simulated seconds per real second; 0 = as fast as possible
    tickets_per_hall: int = 2000
    timezone: str = DEFAULT_TIMEZONE
    kpi_interval_s: int = 60
    staff_interval_s: int = 600
    wall: bool | None = None  # None: the live wall when stdout is a terminal
    mqtt: bool = False

    @property
    def store_dir(self) -> Path:
        return self.data.resolve() / "store"

    @property
    def store_url(self) -> str:
        return f"chdb://{self.store_dir}"

    def day_bounds(self) -> tuple[int, int]:
        zone, day = ZoneInfo(self.timezone), dt.date.fromisoformat(self.date)
        start = dt.datetime.combine(day, OPENS, tzinfo=zone)
        end = dt.datetime.combine(day, CLOSES, tzinfo=zone)
        return round(start.timestamp() * 1000), round(end.timestamp() * 1000)

    def hall_names(self) -> list[str]:
        return [hall_name(i) for i in range(self.halls)]


@dataclass
class HallSummary:
    hall: str
    issued: int
    served: int
    wait_mean_s: float | None
    wait_p90_s: float | None
    no_show_rate: float | None
    answer_rate: float | None
    rating_mean: float | None
    alerts_fired: int


@dataclass
class DemoResult:
    options: dict[str, Any]
    halls: list[HallSummary]
    events_applied: int
    duplicates: int
    rejected: int
    store_rows: dict[str, int]
    day_s: float
    total_s: float = 0.0
    store: str = ""
    report: str = ""
    alert_changes: list[dict[str, Any]] = field(default_factory=list)
    # Sequence check of contract v1.1: producers seen and events found missing upstream.
    producers: int = 0
    upstream_lost: int = 0


class DayRun:
    """The simulator pushed into an engine second by second, the store written behind."""

    def __init__(self, opts: DemoOptions, engine: Engine, writer: StoreWriter) -> None:
        self.opts = opts
        self.engine = engine
        self.writer = writer
        self.start_ms, self.end_ms = opts.day_bounds()
        self.now = self.start_ms
        self.events: Iterator[dict[str, Any]] = iter_simulate(
            halls=opts.halls,
            date=opts.date,
            seed=opts.seed,
            tickets_per_hall=opts.tickets_per_hall,
            timezone=opts.timezone,
        )
        self.next: dict[str, Any] | None = next(self.events, None)
        self.arrivals = ArrivalClock()
        self.pending: list[dict[str, Any]] = []
        self.applied = self.duplicates = self.rejected = 0
        self.firing: dict[str, set[str]] = {}
        self.changes: list[dict[str, Any]] = []
        self._kpis_at = self._staff_at = self.start_ms
        engine.advance(self.start_ms)

    @property
    def done(self) -> bool:
        return self.now >= self.end_ms and self.next is None

    def step_to(self, target_ms: int) -> None:
        """Moves the clock to ``target_ms`` (rounded down to a whole simulated second),
        one simulated second at a time."""
        target = self.start_ms + (target_ms - self.start_ms) // 1000 * 1000
        while self.now < target:
            self._second(self.now + 1000)
        self._flush_events()

    def finish(self) -> None:
        """Pushes what is left (after closing time), then writes the last KPI rows."""
        while self.next is not None:
            self._second(max(self.now + 1000, int(self.next["ts"]) + 1))
        self._flush_events()
        self._write_kpis(staff=True)

    def _second(self, until: int) -> None:
        push = self.engine.push
        while self.next is not None and int(self.next["ts"]) < until:
            event = self.next
            try:
                if push(event):
                    self.applied += 1
                    self.pending.append(event)
                else:
                    self.duplicates += 1
            except InvalidEvent:
                self.rejected += 1
            self.next = next(self.events, None)
        self.now = until
        changes = self.engine.advance(until)
        if changes:
            self._alerts(changes)
        if until - self._kpis_at >= self.opts.kpi_interval_s * 1000:
            staff = until - self._staff_at >= self.opts.staff_interval_s * 1000
            self._write_kpis(staff=staff)
        if len(self.pending) >= 5000:
            self._flush_events()

    def _alerts(self, changes: list[dict[str, Any]]) -> None:
        self.writer.add_alerts(changes)
        self.changes.extend(changes)
        for c in changes:
            names = self.firing.setdefault(c["hall"], set())
            if c["state"] == "firing":
                names.add(c["alert"])
            else:
                names.discard(c["alert"])

    def _flush_events(self) -> None:
        if self.pending:
            self.writer.add_events(events_to_columns(self.pending, self.arrivals))
            self.pending = []

    def _write_kpis(self, *, staff: bool) -> None:
        snap = self.engine.snapshot_columns()
        snap["ts"] = np.full(len(snap["ts"]), self.now, np.int64)
        self.writer.add("hall_kpis", snap)
        self._kpis_at = self.now
        if staff:
            rows = self.engine.staff_columns()
            rows["ts"] = np.full(len(rows["ts"]), self.now, np.int64)
            self.writer.add("staff_kpis", rows)
            self._staff_at = self.now


def wall_state(opts: DemoOptions, run: DayRun, began: float) -> WallState:
    return WallState(
        date=opts.date,
        timezone=opts.timezone,
        speed=opts.speed,
        start_ms=run.start_ms,
        end_ms=run.end_ms,
        now_ms=run.now,
        halls=opts.hall_names(),
        snapshot=run.engine.snapshot(),
        firing={h: sorted(a) for h, a in run.firing.items()},
        events_applied=run.applied,
        rows_written=run.writer.stats.rows_written,
        alerts_fired=sum(1 for c in run.changes if c["state"] == "firing"),
        elapsed_s=time.monotonic() - began,
        store=str(opts.store_dir),
    )


Show = Callable[[WallState], None]


def drive(opts: DemoOptions, run: DayRun, show: Show, *, live: bool) -> None:
    """Runs the day at ``opts.speed``, calling ``show`` four times a second (``live``)
    or at every whole simulated hour and at the end."""
    began = time.monotonic()
    shown = 0.0
    while not run.done:
        hour = (run.now // 3_600_000 + 1) * 3_600_000
        if opts.speed > 0:
            target = run.start_ms + int((time.monotonic() - began) * opts.speed * 1000)
        else:
            target = run.now + 600_000
        run.step_to(min(target, run.end_ms) if live else min(target, run.end_ms, hour))
        if run.now >= run.end_ms:
            run.finish()
        due = time.monotonic() - shown >= WALL_PERIOD_S if live else run.now == hour
        if due or run.done:
            shown = time.monotonic()
            show(wall_state(opts, run, began))
        if opts.speed > 0 and not run.done:
            time.sleep(FRAME_S)


def summarize(snapshot: dict[str, Any], halls: list[str]) -> list[HallSummary]:
    """The summary rows of ``halls`` from an engine snapshot (their ``today`` figures)."""
    snap = snapshot["halls"]
    out = []
    for h in halls:
        t = snap.get(h, {}).get("today", {})
        out.append(
            HallSummary(
                h,
                int(t.get("issued", 0)),
                int(t.get("served", 0)),
                t.get("wait_mean_s"),
                t.get("wait_p90_s"),
                t.get("no_show_rate"),
                t.get("answer_rate"),
                t.get("rating_mean"),
                int(t.get("alerts_fired", 0)),
            )
        )
    return out


def store_rows(store: Store) -> dict[str, int]:
    out = {}
    for table in ("events", "hall_kpis", "staff_kpis", "alerts"):
        out[table] = int(store.rows(f"SELECT count() FROM {store.table(table)}")[0][0])
    return out


def run_in_process(opts: DemoOptions, console: Console) -> tuple[DemoResult, Store]:
    """The day through an in-process engine into chDB; returns the result and the store."""
    store = Store(opts.store_url)
    ensure_schema(store)
    writer = StoreWriter(store, Spool(opts.data.resolve() / "spool"))
    engine = Engine(halls=opts.hall_names(), timezone=opts.timezone)
    began = time.monotonic()
    run = DayRun(opts, engine, writer)
    live = opts.wall if opts.wall is not None else console.is_terminal
    try:
        if live:
            with Live(console=console, auto_refresh=False, transient=False) as screen:
                drive(opts, run, lambda s: screen.update(render_wall(s), refresh=True), live=True)
        else:
            drive(
                opts,
                run,
                lambda s: console.print(progress_line(s), highlight=False, soft_wrap=True),
                live=False,
            )
    finally:
        writer.close(120)
    day_s = time.monotonic() - began
    result = DemoResult(
        options={k: str(v) for k, v in asdict(opts).items()},
        halls=summarize(engine.snapshot(), opts.hall_names()),
        events_applied=run.applied,
        duplicates=run.duplicates,
        rejected=run.rejected,
        store_rows=store_rows(store),
        day_s=day_s,
        store=opts.store_url,
        alert_changes=run.changes,
        producers=int(engine.diagnostics().get("producers", 0)),
        upstream_lost=int(engine.diagnostics().get("upstream_lost_events", 0)),
    )
    return result, store
