"""Event files as the commands read them (``replay``, ``load``): a path, ``-`` for
stdin, ``.gz`` decompressed; read in chunks of whole lines, with optional progress."""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Iterator
from typing import IO, cast

from hallkpi.core.errors import CommandError
from hallkpi.core.progress import Progress

CHUNK = 8 << 20


def open_events(path: str) -> tuple[IO[bytes], int | None]:
    """The stream of an event file and its size on disk (None for stdin)."""
    if path == "-":
        return sys.stdin.buffer, None
    try:
        size = os.path.getsize(path)
        if path.endswith(".gz"):
            return cast(IO[bytes], gzip.open(path, "rb")), size
        return open(path, "rb"), size
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc


def iter_chunks(stream: IO[bytes], progress: Progress | None = None) -> Iterator[bytes]:
    """Chunks of whole lines (the last may lack its newline)."""
    tail = b""
    raw = getattr(stream, "fileobj", None)
    while True:
        block = stream.read(CHUNK)
        if progress is not None:
            progress.done = raw.tell() if raw is not None else progress.done + len(block)
            progress.advance(0)
        if not block:
            break
        data = tail + block
        cut = data.rfind(b"\n")
        if cut < 0:
            tail = data
            continue
        tail = data[cut + 1 :]
        yield data[: cut + 1]
    if tail:
        yield tail
