"""``hallkpi replay``: the KPI snapshot of a JSON-lines file of events (KPIS.md).

Reads the file in chunks (``-`` for stdin, ``.gz`` decompressed), pushes each chunk
into one Engine, optionally advances the clock to ``--now``, and prints the KPIS.md
document (``--json``) or a per-hall table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import IO, Any

from hallkpi.core.config import EngineConfig, load_config
from hallkpi.core.engine import Engine, PushResult
from hallkpi.core.errors import CommandError, ConfigError
from hallkpi.core.event_files import iter_chunks, open_events
from hallkpi.core.progress import Progress

SHOWN_REJECTIONS = 10
SHOWN_GAPS = 10


def replay_stream(engine: Engine, stream: IO[bytes], *, size: int | None = None) -> PushResult:
    """Pushes every line of ``stream``; rejection indexes are file line numbers."""
    total = PushResult(0, 0, 0, ())
    line = 0
    with Progress(size, "replay", min_total=32 << 20) as progress:
        for chunk in iter_chunks(stream, progress):
            r = engine.push_jsonl(chunk)
            shifted = tuple((i + line, why) for i, why in r.rejections)
            total = total + PushResult(r.applied, r.duplicates, r.rejected, shifted)
            line += chunk.count(b"\n")
    return total


def replay_file(engine: Engine, path: str) -> PushResult:
    """Replays a JSON-lines file (``-`` for stdin, ``.gz`` supported) into ``engine``."""
    stream, size = open_events(path)
    try:
        return replay_stream(engine, stream, size=size)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def engine_from_args(args: argparse.Namespace) -> Engine:
    """An engine from ``--config`` overridden by ``--horizons/--pane-ms/--timezone``."""
    try:
        config = load_config(args.config) if args.config else EngineConfig()
        kwargs = config.engine_kwargs()
        if args.horizons:
            kwargs["horizons_s"] = tuple(int(h) for h in args.horizons.split(",") if h.strip())
        if args.pane_ms is not None:
            kwargs["pane_ms"] = args.pane_ms
        if args.timezone:
            kwargs["timezone"] = args.timezone
        return Engine(**kwargs)
    except ValueError as exc:  # ConfigError, or a bad --horizons number
        raise CommandError(str(exc)) from exc


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if unit == "%":
            return f"{v * 100:.0f}%"
        if unit == "min":
            return f"{v / 60:.1f}"
        return f"{v:.1f}"
    return str(v)


TABLE = [
    # header, horizon, kpi, unit
    ("waiting", "now", "waiting", ""),
    ("longest min", "now", "longest_wait_s", "min"),
    ("open win", "now", "open_windows", ""),
    ("pressure", "now", "window_pressure", ""),
    ("est wait min", "now", "est_wait_s", "min"),
    ("issued", "today", "issued", ""),
    ("served", "today", "served", ""),
    ("wait p90 min", "today", "wait_p90_s", "min"),
    ("handle min", "today", "handle_mean_s", "min"),
    ("no-show", "today", "no_show_rate", "%"),
    ("rating", "today", "rating_mean", ""),
    ("answer", "today", "answer_rate", "%"),
    ("svc lvl", "today", "service_level", "%"),
    ("alerts", "today", "alerts_fired", ""),
]


def format_table(snapshot: dict[str, Any], gaps: Sequence[dict[str, Any]] = ()) -> str:
    """A readable per-hall table of the main figures (today and now); with events that
    carry ``producer`` and ``seq``, a line on events lost upstream and the first ``gaps``
    (``Engine.producer_gaps()``)."""
    headers = ["hall"] + [h for h, *_ in TABLE]
    rows = []
    for hall, figures in snapshot["halls"].items():
        row = [hall]
        for _, horizon, kpi, unit in TABLE:
            row.append(_fmt(figures.get(horizon, {}).get(kpi), unit))
        rows.append(row)
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [headers, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    d = snapshot["diagnostics"]
    lines.append("")
    lines.append(
        f"events applied {d['events_applied']}, duplicates {d['duplicate_events']}, "
        f"late {d['late_events']}, orphans {d['orphan_events']}, rejected {d['rejected_events']}"
    )
    if "upstream_lost_events" in d:
        lines.append(
            f"lost upstream {d['upstream_lost_events']} in {d['upstream_gaps']} gaps, "
            f"recovered {d['upstream_recovered_events']}, seq repeats {d['seq_repeats']}, "
            f"producers {d['producers']}"
        )
        for g in gaps[:SHOWN_GAPS]:
            seqs = f"{g['first_seq']}" + (
                f"-{g['last_seq']}" if g["last_seq"] != g["first_seq"] else ""
            )
            epoch = f" epoch {g['epoch']}" if g["epoch"] else ""
            lines.append(f"  {g['producer']}{epoch} seq {seqs} ({g['missing']}), hall {g['hall']}")
        if len(gaps) > SHOWN_GAPS:
            lines.append(f"  ... {len(gaps) - SHOWN_GAPS} more gaps")
    return "\n".join(lines)


def replay_store(engine: Engine, url: str) -> PushResult:
    """Replays the events stored at ``url`` through the store plugin registered for its
    scheme in the entry-point group ``hallkpi.stores`` (hallkpi.ingest registers
    ``chdb``, ``http`` and ``https``)."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    for ep in entry_points(group="hallkpi.stores"):
        if ep.name == scheme:
            loader: Callable[[Engine, str], PushResult] = ep.load()
            return loader(engine, url)
    known = sorted({ep.name for ep in entry_points(group="hallkpi.stores")})
    hint = f" (known: {', '.join(known)})" if known else " (install hallkpi[server])"
    raise CommandError(f"no store plugin for {url!r}{hint}")


def run(args: argparse.Namespace) -> int:
    if (args.events is None) == (args.from_store is None):
        raise CommandError("give either a file of events or --from-store URL")
    engine = engine_from_args(args)
    if args.from_store is not None:
        result = replay_store(engine, args.from_store)
    else:
        result = replay_file(engine, args.events)
    if args.now is not None:
        engine.advance(args.now)
    for line, reason in result.rejections[:SHOWN_REJECTIONS]:
        print(f"line {line}: {reason}", file=sys.stderr)
    if result.rejected > SHOWN_REJECTIONS:
        print(f"... {result.rejected - SHOWN_REJECTIONS} more rejected lines", file=sys.stderr)
    snapshot = engine.snapshot()
    if args.json:
        json.dump(snapshot, sys.stdout, ensure_ascii=False, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(format_table(snapshot, engine.producer_gaps()))
    return 0


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """Options shared by commands that build an Engine."""
    p.add_argument("--config", metavar="FILE", help="TOML configuration (engine, halls, alerts)")
    p.add_argument("--horizons", metavar="S,S,...", help="sliding horizons in seconds")
    p.add_argument("--pane-ms", type=int, metavar="MS", help="pane size in milliseconds")
    p.add_argument("--timezone", metavar="TZ", help="IANA time zone of the halls")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay",
        help="KPIs of a JSON-lines file of events",
        description="Replays EVENTS.md JSON lines through the engine and prints the KPI "
        "snapshot (KPIS.md): a per-hall table, or the JSON document with --json.",
    )
    p.add_argument(
        "events", metavar="EVENTS.jsonl", nargs="?", help="file of events; - for stdin; .gz ok"
    )
    p.add_argument(
        "--from-store",
        metavar="URL",
        help="replay the events stored in a store (chdb:///dir or http(s)://user@host:8123/db)",
    )
    p.add_argument(
        "--now", type=int, metavar="MS", help="advance the clock to MS before the snapshot"
    )
    p.add_argument("--json", action="store_true", help="print the KPIS.md JSON document")
    add_engine_options(p)
    p.set_defaults(func=run)


__all__ = ["ConfigError", "engine_from_args", "format_table", "replay_file", "replay_stream"]
