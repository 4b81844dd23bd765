"""``hallkpi demo``: a whole business day of several halls and their phone lines, live.

The simulator (:func:`hallkpi.core.sim.simulate.iter_simulate`) feeds an in-process Engine
at accelerated time: the simulated clock runs from 07:30 to 18:30 local time, by
default 660 times faster than real time (about a minute). Every simulated second the
day's events due by then are pushed and the engine clock advances (as ``hallkpi
serve`` does with the wall clock); raw events, KPI rows (every 60 simulated seconds),
staff rows (every 10 simulated minutes) and alert changes go through a StoreWriter
into chDB at ``DATA/store`` (spool ``DATA/spool``). A rich wall screen shows every
hall live; without a terminal a progress line is printed every simulated hour. At the
end a summary is printed, ``DATA/summary.json`` and ``DATA/report.html`` written; then
taxpayer credit is shown (:mod:`hallkpi.ingest.demo.credit`: a sample imported into
``DATA/store`` database ``credit``, evaluated, published to ``DATA/credit``).

Each run starts afresh: ``DATA/store`` and ``DATA/spool`` of an earlier run are
deleted first. ``--mqtt`` runs the same day through a local Mosquitto and ``hallkpi
serve`` (see :mod:`hallkpi.ingest.demo.mqtt_day`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from hallkpi.core.errors import CommandError
from hallkpi.core.timezone import DEFAULT_TIMEZONE
from hallkpi.ingest.demo.day import DEFAULT_SPEED, DemoOptions, DemoResult, run_in_process
from hallkpi.ingest.report.data import load
from hallkpi.ingest.report.html import render
from hallkpi.ingest.store.connection import Store
from rich.console import Console
from rich.table import Table

__all__ = ["DemoOptions", "DemoResult", "register", "run_demo"]


def prepare(opts: DemoOptions) -> None:
    """A fresh data folder: the store and spool of an earlier run are deleted."""
    data = opts.data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    for name in ("store", "spool"):
        shutil.rmtree(data / name, ignore_errors=True)
    shutil.rmtree(data / "credit", ignore_errors=True)
    for name in ("report.html", "summary.json"):
        (data / name).unlink(missing_ok=True)


def _fmt(v: float | None, kind: str) -> str:
    if v is None:
        return "-"
    if kind == "min":
        return f"{v / 60:.1f} min"
    if kind == "pct":
        return f"{v:.1%}"
    return f"{v:.2f}"


def print_summary(console: Console, result: DemoResult, opts: DemoOptions) -> None:
    table = Table(title=f"hallkpi demo: {opts.date}, {opts.halls} halls", title_justify="left")
    heads = ("hall", "issued", "served", "mean wait", "p90 wait", "no-show")
    for head in (*heads, "answer rate", "rating", "alerts fired"):
        table.add_column(head, justify="left" if head == "hall" else "right")
    for h in result.halls:
        table.add_row(
            h.hall,
            str(h.issued),
            str(h.served),
            _fmt(h.wait_mean_s, "min"),
            _fmt(h.wait_p90_s, "min"),
            _fmt(h.no_show_rate, "pct"),
            _fmt(h.answer_rate, "pct"),
            _fmt(h.rating_mean, ""),
            str(h.alerts_fired),
        )
    console.print(table)
    rows = ", ".join(f"{t} {n:,}" for t, n in result.store_rows.items())
    url = result.store
    until = (dt.date.fromisoformat(opts.date) + dt.timedelta(days=1)).isoformat()
    console.print(
        f"events applied {result.events_applied:,} (duplicates {result.duplicates}, "
        f"rejected {result.rejected}); store rows: {rows}\n"
        f"sequence check: {result.producers} producers, "
        f"{result.upstream_lost} events lost upstream\n"
        f"day simulated in {result.day_s:.1f} s, {result.total_s:.1f} s in all\n"
        f"store   {opts.store_dir}  (chDB; cleared at the start of every demo run)\n"
        f"report  {result.report}\n"
        f"explore hallkpi replay --from-store {url}\n"
        f"        hallkpi trends --store {url} --kpi wait_p90_s --by-hall "
        f"--until {until} --days 1\n"
        f"        hallkpi report staff --store {url} --date {opts.date}",
        highlight=False,
        soft_wrap=True,
    )


def write_report(store: Store, path: Path, opts: DemoOptions, result: DemoResult) -> None:
    """Writes the report of the demo day ``opts.date`` from ``store`` to ``path``."""
    t0, t1 = opts.day_bounds()
    data = load(store, opts.date, opts.timezone, t0, t1)
    note = (
        f"Simulated (seed {opts.seed}) "
        + (f"at {opts.speed:g}× real time" if opts.speed else "as fast as possible")
        + (" through Mosquitto and hallkpi serve" if opts.mqtt else "")
        + ", computed live: "
        f"{result.events_applied:,} events in {result.day_s:.0f} s."
    )
    path.write_text(render(data, data_dir=str(path.parent), run_note=note), encoding="utf-8")


def run_demo(opts: DemoOptions, console: Console | None = None) -> DemoResult:
    """Runs the demo end to end; returns what it printed in the summary."""
    console = console or Console()
    began = time.monotonic()
    prepare(opts)
    if opts.mqtt:
        from hallkpi.ingest.demo.mqtt_day import run_through_mqtt

        result, store = run_through_mqtt(opts, console)
    else:
        result, store = run_in_process(opts, console)
    with store:
        report = opts.data.resolve() / "report.html"
        write_report(store, report, opts, result)
    result.report = str(report)
    result.total_s = time.monotonic() - began
    summary = opts.data.resolve() / "summary.json"
    summary.write_text(json.dumps(dataclasses.asdict(result), indent=1) + "\n", encoding="utf-8")
    print_summary(console, result, opts)
    from hallkpi.ingest.demo.credit import run_credit_demo  # taxpayer credit (docs/CREDIT.md)

    run_credit_demo(opts.store_dir, opts.data.resolve() / "credit", console)
    return result


def run(args: argparse.Namespace) -> int:
    opts = DemoOptions(
        data=Path(args.data),
        halls=args.halls,
        date=args.date,
        seed=args.seed,
        speed=args.speed,
        tickets_per_hall=args.tickets_per_hall,
        timezone=args.timezone,
        kpi_interval_s=args.kpi_interval_s,
        wall=False if args.no_wall else None,
        mqtt=args.mqtt,
    )
    if opts.halls < 1 or opts.speed < 0 or opts.kpi_interval_s < 1:
        raise CommandError("--halls and --kpi-interval-s must be >= 1, --speed >= 0")
    try:
        opts.day_bounds()
    except ValueError as exc:
        raise CommandError(f"--date {opts.date!r}: {exc}") from None
    console = Console() if sys.stdout.isatty() else Console(width=120)
    run_demo(opts, console)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="a simulated business day of several halls, live, into chDB, with a report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--halls", type=int, default=6, help="number of halls (default 6)")
    p.add_argument("--date", default="2026-11-27", help="the simulated day, YYYY-MM-DD")
    p.add_argument("--seed", type=int, default=7, help="random seed of the simulation (7)")
    p.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help=f"simulated seconds per real second (default {DEFAULT_SPEED:g}: the day "
        "07:30-18:30 in a minute; 0 = as fast as possible)",
    )
    p.add_argument("--data", default="hallkpi-data", metavar="DIR", help="(./hallkpi-data)")
    p.add_argument("--tickets-per-hall", type=int, default=2000, metavar="N")
    p.add_argument("--timezone", default=DEFAULT_TIMEZONE, help="IANA zone of the halls")
    p.add_argument(
        "--kpi-interval-s", type=int, default=60, metavar="S", help="KPI rows every S (60)"
    )
    p.add_argument("--no-wall", action="store_true", help="progress lines, not the live wall")
    p.add_argument(
        "--mqtt", action="store_true", help="through a local Mosquitto and hallkpi serve"
    )
    p.set_defaults(func=run)
