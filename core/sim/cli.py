"""``hallkpi simulate``: simulated days (:mod:`hallkpi.core.sim.simulate`) written as
JSON lines to a file or stdout, or published over MQTT through the ``hallkpi.publishers``
entry points (so core never imports the MQTT code)."""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol

from hallkpi.core.errors import CommandError
from hallkpi.core.sim.simulate import hall_name, iter_lines, iter_simulate
from hallkpi.core.timezone import DEFAULT_TIMEZONE


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``hallkpi simulate`` to the command line (entry point ``hallkpi.commands``)."""
    parser = subparsers.add_parser(
        "simulate",
        help="write simulated days of tax halls as JSON-lines events",
        description="Write seeded, realistic business days of tax halls and their phone "
        "lines as JSON-lines events (EVENTS.md), sorted by time.",
    )
    parser.add_argument(
        "--out", metavar="FILE", help="output file; '-' for stdout; *.gz is gzipped"
    )
    parser.add_argument(
        "--mqtt",
        metavar="URL",
        help="publish to a broker instead (mqtt://host:1883), paced by --speed",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="with --mqtt: simulated seconds per real second (1 = real time, 0 = no pacing)",
    )
    parser.add_argument("--prefix", default="hallkpi/v1", help="with --mqtt: topic prefix")
    parser.add_argument("--halls", type=int, default=6, help="number of halls (default 6)")
    parser.add_argument("--date", default="2026-11-27", help="first local day, YYYY-MM-DD")
    parser.add_argument("--days", type=int, default=1, help="number of days (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--tickets-per-hall",
        type=int,
        default=2000,
        metavar="N",
        help="about N tickets a day in a busy hall (default 2000)",
    )
    parser.add_argument(
        "--timezone", default=DEFAULT_TIMEZONE, help=f"IANA time zone (default {DEFAULT_TIMEZONE})"
    )
    parser.add_argument(
        "--adversarial",
        action="store_true",
        help="inject duplicates, reordering, late, orphan, malformed and non-JSON lines",
    )
    parser.set_defaults(func=run)


class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


def _write(lines: Iterator[bytes], stream: _Writable) -> int:
    count = 0
    batch: list[bytes] = []
    for line in lines:
        batch.append(line)
        if len(batch) == 4096:
            stream.write(b"".join(batch))
            count += len(batch)
            batch.clear()
    stream.write(b"".join(batch))
    return count + len(batch)


def _publish(args: argparse.Namespace) -> int:
    """``--mqtt``: hand the events to the publisher registered for the URL's scheme in the
    entry-point group ``hallkpi.publishers`` (hallkpi.ingest registers ``mqtt``/``mqtts``),
    so core never imports the MQTT code."""
    scheme = str(args.mqtt).split("://", 1)[0]
    for ep in entry_points(group="hallkpi.publishers"):
        if ep.name == scheme:
            publish = ep.load()
            events = iter_simulate(
                halls=args.halls,
                date=args.date,
                days=args.days,
                seed=args.seed,
                tickets_per_hall=args.tickets_per_hall,
                timezone=getattr(args, "timezone", DEFAULT_TIMEZONE),
            )
            count = int(publish(events, args.mqtt, speed=args.speed, prefix=args.prefix))
            print(f"hallkpi simulate: published {count} events to {args.mqtt}", file=sys.stderr)
            return 0
    raise CommandError(f"no publisher for {scheme!r} URLs (install hallkpi[server])")


def run(args: argparse.Namespace) -> int:
    """Run ``hallkpi simulate``: write the lines, print a summary to stderr; exit code."""
    if (args.out is None) == (getattr(args, "mqtt", None) is None):
        raise CommandError("give --out FILE or --mqtt URL")
    if getattr(args, "mqtt", None):
        return _publish(args)
    adversarial = bool(getattr(args, "adversarial", False))
    try:
        lines = iter_lines(
            halls=args.halls,
            date=args.date,
            days=args.days,
            seed=args.seed,
            tickets_per_hall=args.tickets_per_hall,
            timezone=getattr(args, "timezone", DEFAULT_TIMEZONE),
            adversarial=adversarial,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    out = str(args.out)
    if out == "-":
        count = _write(lines, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        path = Path(out)
        part = path.with_name(path.name + ".part")  # never leave a half-written file
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with part.open("wb") as raw:
                if path.suffix == ".gz":
                    # mtime=0 and no name: the same arguments give the same bytes.
                    with gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as gz:
                        count = _write(lines, gz)
                else:
                    count = _write(lines, raw)
            os.replace(part, path)
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise CommandError(f"cannot write {out}: {exc}") from None
    first = hall_name(0)
    names = first if args.halls == 1 else f"{first}..{hall_name(args.halls - 1)}"
    print(
        f"hallkpi simulate: {count} {'lines' if adversarial else 'events'}, "
        f"{args.halls} halls ({names}), {args.date} x {args.days} day(s), seed {args.seed}"
        f"{', adversarial' if adversarial else ''} -> {out}",
        file=sys.stderr,
    )
    return 0
