"""``hallkpi load EVENTS.jsonl --store URL``: bulk load of a JSON-lines file of events.

Each chunk of lines is parsed once, in C++: validated as the engine validates (so the
store holds exactly what ``hallkpi replay FILE`` applies) and laid out as the store's
columns (:mod:`load_chunk`, in worker processes for big inputs); here the chunks are
taken in file order, de-duplicated by ``id`` across chunks (first valid arrival wins,
as in the engine) and written through the :class:`StoreWriter`. Rejected and duplicate arrivals
go to ``dead_letters`` keyed by ``(source, position)``, where ``source`` is the SHA-256
of the file's bytes: loading the same file twice changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
from hallkpi.core.config import EngineConfig, load_config
from hallkpi.core.errors import CommandError
from hallkpi.core.event_files import iter_chunks, open_events
from hallkpi.core.progress import Progress
from hallkpi.ingest.errors import StoreError
from hallkpi.ingest.store.cli_options import add_store_options, store_from_args
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.jsonl import take
from hallkpi.ingest.store.load_chunk import POSITION_BITS, ChunkResult, parse_chunk
from hallkpi.ingest.store.native import PackedStrings
from hallkpi.ingest.store.schema import ensure_schema, layout_options
from hallkpi.ingest.store.spool import Spool
from hallkpi.ingest.store.writer import StoreWriter, WriterConfig

SHOWN_REJECTIONS = 10
PAYLOAD_KEEP = 4096  # bytes of a rejected line kept in dead_letters (as the MQTT dead letter)
LOAD_WRITER = WriterConfig(max_rows=100_000, max_pending_rows=1_000_000)
PARALLEL_FROM_BYTES = 32 << 20  # smaller inputs are parsed in-process


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


def _dead_letter_columns(rows: list[DeadLetter], source: str) -> dict[str, Any]:
    return {
        "source": PackedStrings.from_strs([source] * len(rows)),
        "position": np.array([x[0] for x in rows], np.uint64),
        "ingest_seq": np.array([x[1] for x in rows], np.uint64),
        "ts": np.array([x[2] for x in rows], np.int64),
        "kind": PackedStrings.from_strs([x[3] for x in rows]),
        "hall": PackedStrings.from_strs([x[4] for x in rows]),
        "id": PackedStrings.from_strs([x[5] for x in rows]),
        "reason": PackedStrings.from_strs([x[6] for x in rows]),
        "payload": PackedStrings.from_bytes([x[7][:PAYLOAD_KEEP] for x in rows]),
    }


class Loader:
    """Takes chunk results in file order: shifts their positions, de-duplicates ids
    across chunks, stamps arrivals (``ingest_seq`` = start ns + arrival number) and
    hands the rows to the writer."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer
        self.report = LoadReport()
        self.dead: list[DeadLetter] = []
        self.seen: set[int] = set()
        self.base = time.time_ns()
        self.arrivals = 0
        self.clock = 0  # largest valid ts so far (stamps rejected lines)
        self.sha = hashlib.sha256()

    def add(self, r: ChunkResult) -> None:
        line0, seq0 = self.report.lines << POSITION_BITS, self.base + self.arrivals
        self.sha.update(r.digest)
        for d in r.dead:
            ts = d.ts if d.kind == "duplicate" else max(self.clock, d.clock, 0)
            if d.kind == "rejected":
                self.report.rejected += 1
                self.report.rejections.append(((line0 + d.position) >> POSITION_BITS, d.reason))
            else:
                self.report.duplicates += 1
            row = (line0 + d.position, seq0 + d.arrival, ts, d.kind, d.hall, d.id, d.reason)
            self.dead.append((*row, d.payload))
        if r.columns is not None:
            self._events(r, line0, seq0)
        self.clock = max(self.clock, r.max_ts)
        self.report.lines += r.lines
        self.arrivals += r.arrivals

    def _events(self, r: ChunkResult, line0: int, seq0: int) -> None:
        cols = r.columns
        assert cols is not None
        fresh = r.id_hash.tolist()  # the engine's id hash: what it de-duplicates by
        if not self.seen.isdisjoint(fresh):  # ids seen in an earlier chunk
            keep = np.fromiter((i not in self.seen for i in fresh), bool, len(fresh))
            halls, ids = cols["hall"].to_list(), cols["id"].to_list()
            for k in np.flatnonzero(~keep).tolist():
                row = (
                    line0 + int(r.positions[k]),
                    seq0 + int(cols["ingest_seq"][k]),
                    int(cols["ts"][k]),
                    "duplicate",
                    halls[k],
                    ids[k],
                    "",
                )
                self.dead.append((*row, b""))
            self.report.duplicates += int((~keep).sum())
            self.dead.sort(key=lambda d: d[1])
            cols = take(cols, keep)
        self.seen.update(fresh)
        cols["ingest_seq"] = cols["ingest_seq"] + np.uint64(seq0)
        self.report.events += len(cols["ts"])
        self.writer.add("events", cols)

    def finish(self) -> LoadReport:
        self.report.source = "file:" + self.sha.hexdigest()[:32]
        if self.dead:
            self.writer.add("dead_letters", _dead_letter_columns(self.dead, self.report.source))
        return self.report


def chunk_results(
    chunks: Iterator[bytes], *, max_payload_bytes: int, workers: int
) -> Iterator[ChunkResult]:
    """Parsed chunks in order: in-process, or by ``workers`` processes (forkserver)."""
    if workers <= 0:
        for data in chunks:
            yield parse_chunk(data, max_payload_bytes)
        return
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["hallkpi.ingest.store.load_chunk"])
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        pending: deque[Future[ChunkResult]] = deque()
        for data in chunks:
            pending.append(pool.submit(parse_chunk, data, max_payload_bytes))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def default_workers(size: int | None) -> int:
    """Worker processes for an input of ``size`` bytes (None: unknown, e.g. stdin)."""
    cpus = os.cpu_count() or 1
    if cpus < 2 or (size is not None and size < PARALLEL_FROM_BYTES):
        return 0
    return min(cpus, 4)


def load_stream(
    store: Store,
    stream: IO[bytes],
    *,
    size: int | None = None,
    max_payload_bytes: int = 262144,
    spool_dir: str | None = None,
    config: WriterConfig = LOAD_WRITER,
    workers: int | None = 0,
    cluster: str | None = None,
    ttl_days: Mapping[str, int] | None = None,
) -> LoadReport:
    """Loads every line of ``stream`` into ``store`` (creating the schema if needed).
    ``workers``: processes parsing chunks (0: in this process; None: chosen by size).
    With workers the calling script needs the usual ``if __name__ == "__main__":``
    guard of multiprocessing. ``cluster``/``ttl_days``: how a missing schema is made."""
    t0 = time.perf_counter()
    ensure_schema(store, cluster=cluster, ttl_days=ttl_days)
    n = default_workers(size) if workers is None else workers
    with tempfile.TemporaryDirectory(prefix="hallkpi-spool-") as tmp:
        spool = Spool(spool_dir or tmp)
        writer = StoreWriter(store, spool, config)
        loader = Loader(writer)
        try:
            with Progress(size, "load", min_total=16 << 20) as progress:
                chunks = iter_chunks(stream, progress)
                for result in chunk_results(chunks, max_payload_bytes=max_payload_bytes, workers=n):
                    loader.add(result)
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
        cluster, ttl_days = layout_options(config.raw)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    stream, size = open_events(args.events)
    try:
        report = load_stream(
            store,
            stream,
            size=size,
            max_payload_bytes=config.max_payload_bytes,
            spool_dir=args.spool,
            workers=args.workers,
            cluster=args.cluster or cluster,
            ttl_days=ttl_days,
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
    p.add_argument(
        "--config", metavar="FILE", help="TOML configuration ([engine] payload limit, [store])"
    )
    p.add_argument(
        "--cluster", metavar="NAME", help="create a missing schema ON CLUSTER NAME (replicated)"
    )
    p.add_argument("--rejects", metavar="FILE", help="write every rejected line: LINE<TAB>REASON")
    p.add_argument(
        "--workers", type=int, metavar="N", help="parsing processes (default: 0 below 32 MB)"
    )
    p.add_argument(
        "--spool", metavar="DIR", help="keep blocks the store refused here (default: temporary)"
    )
    p.set_defaults(func=run)
