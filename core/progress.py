"""A dependency-free progress bar on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``with Progress(total_bytes, "replay") as p: p.advance(n)``; silent when not a TTY
    or when the work is small."""

    def __init__(
        self, total: int | None, label: str, *, stream: TextIO | None = None, min_total: int = 0
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = total
        self.label = label
        self.done = 0
        self.enabled = self.stream.isatty() and (total is None or total >= min_total)
        self._start = time.monotonic()
        self._last = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()

    def advance(self, n: int) -> None:
        self.done += n
        if self.enabled:
            self._draw()

    def _draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed / 1e6
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            eta = (self.total - self.done) / max(self.done / elapsed, 1e-9)
            text = f"\r{self.label} [{bar:<30}] {frac:6.1%} {rate:6.1f} MB/s eta {eta:4.0f} s"
        else:
            text = f"\r{self.label} {self.done / 1e6:8.1f} MB {rate:6.1f} MB/s"
        self.stream.write(text)
        self.stream.flush()
