"""``hallkpi load EVENTS.jsonl --store URL``: bulk load of a JSON-lines file of events.

Each chunk of lines is validated by a throwaway Engine (the engine decides what is
valid, so the store holds exactly what ``hallkpi replay FILE`` applies), decoded into
columns (:mod:`jsonl`), de-duplicated by ``id`` (first valid arrival wins, as in the
engine) and written through the :class:`StoreWriter`. Rejected and duplicate arrivals
go to ``dead_letters`` keyed by ``(source, position)``, where ``source`` is the SHA-256
of the file's bytes: loading the same file twice changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from dataclasses import dataclass, field
from operator import attrgetter
from typing import IO, Any

import msgspec
import numpy as np
from hallkpi.core.cli import CommandError
from hallkpi.core.config import EngineConfig, load_config
from hallkpi.core.engine import Engine
from hallkpi.core.progress import Progress
from hallkpi.core.replay import _open, iter_chunks
from hallkpi.ingest.cli_options import add_store_options, store_from_args
from hallkpi.ingest.connection import Store
from hallkpi.ingest.errors import StoreError
from hallkpi.ingest.jsonl import decode_events, event_columns, lenient
from hallkpi.ingest.native import PackedStrings
from hallkpi.ingest.schema import ensure_schema
from hallkpi.ingest.spool import Spool
from hallkpi.ingest.writer import StoreWriter, WriterConfig

SHOWN_REJECTIONS = 10
PAYLOAD_KEEP = 4096  # bytes of a rejected line kept in dead_letters (as the MQTT dead letter)
POSITION_BITS = 16  # position = line << 16 | element of an array line
LOAD_WRITER = WriterConfig(max_rows=200_000, max_pending_rows=1_000_000)


class Validator:
    """Engine validation only: a throwaway engine whose state nobody reads."""

    def __init__(self, max_payload_bytes: int = 262144) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.engine = Engine(
            horizons_s=(86400,),
            pane_ms=86_400_000,
            alert_rules=(),
            max_payload_bytes=max_payload_bytes,
        )

    def lines(self, chunk: bytes) -> list[tuple[int, str]]:
        """Rejected lines of ``chunk``: (line, 1-based; reason)."""
        return list(self.engine.push_jsonl(chunk).rejections)

    def elements(self, line: bytes) -> list[tuple[int, str]]:
        """Rejected elements of an array line: (element, 0-based; reason)."""
        return list(self.engine.push_json(line).rejections)


@dataclass
class LoadReport:
    """What a load did; ``rejections`` are (line, reason), all of them."""

    lines: int = 0
    events: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0
    source: str = ""


DeadLetter = tuple[int, int, int, str, str, str, str, bytes]
"""position, ingest_seq, ts, kind, hall, id, reason, payload."""


class _DeadLetters:
    def __init__(self) -> None:
        self.rows: list[DeadLetter] = []

    def add(self, row: DeadLetter) -> None:
        self.rows.append((*row[:7], row[7][:PAYLOAD_KEEP]))

    def columns(self, source: str) -> dict[str, Any]:
        r = self.rows
        return {
            "source": PackedStrings.from_strs([source] * len(r)),
            "position": np.array([x[0] for x in r], np.uint64),
            "ingest_seq": np.array([x[1] for x in r], np.uint64),
            "ts": np.array([x[2] for x in r], np.int64),
            "kind": PackedStrings.from_strs([x[3] for x in r]),
            "hall": PackedStrings.from_strs([x[4] for x in r]),
            "id": PackedStrings.from_strs([x[5] for x in r]),
            "reason": PackedStrings.from_strs([x[6] for x in r]),
            "payload": PackedStrings.from_bytes([x[7] for x in r]),
        }


class Loader:
    """Loads chunks of JSON lines into a writer; keeps the dedup set and the clock."""

    def __init__(self, writer: StoreWriter, validator: Validator) -> None:
        self.writer = writer
        self.validator = validator
        self.report = LoadReport()
        self.dead = _DeadLetters()
        self.seen: set[str] = set()
        self.base = time.time_ns()
        self.arrivals = 0
        self.clock = 0  # largest valid ts so far (stamps rejected lines)
        self.sha = hashlib.sha256()

    def chunk(self, data: bytes) -> None:
        self.sha.update(data)
        first = self.report.lines  # lines before this chunk
        rejected = dict(self.validator.lines(data))
        lines = data.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        self.report.lines += len(lines)
        if not rejected and data[:1] == b"{" and data.count(b"\n{") >= len(lines) - 1:
            # every line an object, none rejected: the common case, without a Python loop
            self._flush_plain(lines, list(range(first + 1, first + len(lines) + 1)))
            return
        plain: list[bytes] = []
        where: list[int] = []  # line number (1-based, global) of each event of `plain`
        for i, line in enumerate(lines, 1):
            head = line.lstrip()[:1]
            if head == b"[":
                self._flush_plain(plain, where)
                self._array(first + i, line)
            elif i in rejected:
                self._flush_plain(plain, where)
                self._reject(first + i, 0, rejected[i], line)
            elif head:
                plain.append(line)
                where.append(first + i)
        self._flush_plain(plain, where)

    def _flush_plain(self, lines: list[bytes], where: list[int]) -> None:
        if lines:
            self._events(decode_events(lines), [w << POSITION_BITS for w in where])
            lines.clear()
            where.clear()

    def _array(self, line_no: int, line: bytes) -> None:
        bad = dict(self.validator.elements(line))
        try:
            items = msgspec.json.decode(line)
            whole = len(line) > self.validator.max_payload_bytes or not isinstance(items, list)
        except msgspec.DecodeError:
            whole = True
        if whole:  # the engine rejected the payload as a whole
            for _, reason in sorted(bad.items()):
                self._reject(line_no, 0, reason, line)
            return
        events, positions = [], []
        for k, item in enumerate(items):
            if k in bad:
                self._reject(line_no, k, bad[k], line)
            else:
                events.append(lenient(item))
                positions.append((line_no << POSITION_BITS) | k)
        self._events(events, positions)

    def _reject(self, line_no: int, element: int, reason: str, payload: bytes) -> None:
        self.report.rejected += 1
        self.report.rejections.append((line_no, reason))
        seq = self.base + self.arrivals
        self.arrivals += 1
        position = (line_no << POSITION_BITS) | element
        self.dead.add((position, seq, self.clock, "rejected", "", "", reason, payload))

    def _events(self, events: list[Any], positions: list[int]) -> None:
        if not events:
            return
        n = len(events)
        seqs = np.arange(self.base + self.arrivals, self.base + self.arrivals + n, dtype=np.uint64)
        self.arrivals += n
        seen, keep = self.seen, np.ones(n, bool)
        ids = list(map(attrgetter("id"), events))
        fresh = set(ids)
        if len(fresh) == n and seen.isdisjoint(fresh):
            seen |= fresh
        else:  # some id repeats: find the arrivals that are not first
            seen_add = seen.add
            for k, id_ in enumerate(ids):
                if id_ in seen:
                    keep[k] = False
                    e = events[k]
                    row = (positions[k], int(seqs[k]), e.ts, "duplicate", e.hall, id_, "", b"")
                    self.dead.add(row)
                else:
                    seen_add(id_)
            self.report.duplicates += int(n - keep.sum())
            events = [e for e, k in zip(events, keep.tolist(), strict=True) if k]
            seqs = seqs[keep]
        if not events:
            return
        cols, order = event_columns(events)
        cols["ingest_seq"] = seqs[order]
        if events:
            self.clock = max(self.clock, int(cols["ts"].max()))
        self.report.events += len(events)
        self.writer.add("events", cols)

    def finish(self) -> LoadReport:
        self.report.source = "file:" + self.sha.hexdigest()[:32]
        if self.dead.rows:
            self.writer.add("dead_letters", self.dead.columns(self.report.source))
        return self.report


def load_stream(
    store: Store,
    stream: IO[bytes],
    *,
    size: int | None = None,
    max_payload_bytes: int = 262144,
    spool_dir: str | None = None,
    config: WriterConfig = LOAD_WRITER,
) -> LoadReport:
    """Loads every line of ``stream`` into ``store`` (creating the schema if needed)."""
    t0 = time.perf_counter()
    ensure_schema(store)
    with tempfile.TemporaryDirectory(prefix="hallkpi-spool-") as tmp:
        spool = Spool(spool_dir or tmp)
        writer = StoreWriter(store, spool, config)
        loader = Loader(writer, Validator(max_payload_bytes))
        try:
            with Progress(size, "load", min_total=16 << 20) as progress:
                for data in iter_chunks(stream, progress):
                    loader.chunk(data)
            report = loader.finish()
        finally:
            writer.close()
        if len(spool):
            where = spool_dir or "a temporary spool (discarded)"
            raise StoreError(
                f"the store went away: {len(spool)} blocks stayed in {where}; "
                "run the load again (loading is idempotent)"
            )
    report.seconds = time.perf_counter() - t0
    return report


def run(args: argparse.Namespace) -> int:
    store = store_from_args(args)
    try:
        config = load_config(args.config) if args.config else EngineConfig()
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    stream, size = _open(args.events)
    try:
        report = load_stream(
            store,
            stream,
            size=size,
            max_payload_bytes=config.max_payload_bytes,
            spool_dir=args.spool,
        )
    except StoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
        store.close()
    for line, reason in report.rejections[:SHOWN_REJECTIONS]:
        print(f"line {line}: {reason}", file=sys.stderr)
    if report.rejected > SHOWN_REJECTIONS:
        print(f"... {report.rejected - SHOWN_REJECTIONS} more rejected lines", file=sys.stderr)
    if args.rejects:
        with open(args.rejects, "w", encoding="utf-8") as f:
            for line, reason in report.rejections:
                f.write(f"{line}\t{reason}\n")
    rate = report.events / report.seconds if report.seconds else 0.0
    print(
        f"loaded {report.events} events from {args.events} into {store.url} "
        f"({report.duplicates} duplicates, {report.rejected} rejected) "
        f"in {report.seconds:.2f} s, {rate:,.0f} events/s"
    )
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "load",
        help="load a JSON-lines file of events into the store",
        description="Validates each line with the engine, stores the valid events "
        "(de-duplicated by id; loading a file twice changes nothing) and lists rejected "
        "lines with their line numbers and reasons.",
    )
    p.add_argument("events", metavar="EVENTS.jsonl", help="file of events; - for stdin; .gz ok")
    add_store_options(p)
    p.add_argument("--config", metavar="FILE", help="TOML configuration (engine payload limit)")
    p.add_argument("--rejects", metavar="FILE", help="write every rejected line: LINE<TAB>REASON")
    p.add_argument(
        "--spool", metavar="DIR", help="keep blocks the store refused here (default: temporary)"
    )
    p.set_defaults(func=run)
