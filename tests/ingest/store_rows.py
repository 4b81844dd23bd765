"""Rows and checks shared by the writer tests: event columns, a frozen clock, what the
store holds, a tiny tmpfs (a real full disk)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hallkpi.ingest.errors import StoreError, StoreUnavailable
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.native import PackedStrings

T0 = 1764205200000


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def events(start: int, n: int, hall: str = "yuhua", ts: Any = None) -> dict[str, Any]:
    """``n`` ticket.issued events ``e<start>``...; ``ts`` defaults to T0 + number."""
    ids = [f"e{start + i}" for i in range(n)]
    return {
        "id": PackedStrings.from_strs(ids),
        "type": PackedStrings.from_strs(["ticket.issued"] * n),
        "ts": T0 + np.arange(start, start + n, dtype=np.int64) if ts is None else ts,
        "hall": PackedStrings.from_strs([hall] * n),
        "ticket": PackedStrings.from_strs([f"A{start + i}" for i in range(n)]),
        "service": PackedStrings.from_strs(["invoice"] * n),
        "channel": PackedStrings.from_strs(["kiosk"] * n),
    }


def event_dicts(start: int, n: int) -> list[dict[str, Any]]:
    return [
        {"id": f"e{start + i}", "type": "ticket.issued", "ts": T0 + start + i, "hall": "yuhua"}
        for i in range(n)
    ]


def dicts_to_columns(evs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": PackedStrings.from_strs([e["id"] for e in evs]),
        "type": PackedStrings.from_strs([e["type"] for e in evs]),
        "ts": np.array([e["ts"] for e in evs], np.int64),
        "hall": PackedStrings.from_strs([e["hall"] for e in evs]),
    }


def stored_ids(store: Store) -> list[str]:
    rows = store.rows(f"SELECT id FROM {store.table('events')} FINAL ORDER BY ingest_seq")
    return [r[0] for r in rows]


@contextlib.contextmanager
def tiny_disk(where: Path, size: str = "256k") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``where`` (needs root and mount rights; else the test is
    skipped, saying why), unmounted afterwards."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for a full disk: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, name: str = "ballast", leave: int = 0) -> Path:
    """Fills ``disk`` with a file until at most ``leave`` bytes are free."""
    path = disk / name
    with open(path, "ab") as f:
        while (free := _free(disk)) > leave:
            try:
                f.write(b"\0" * min(1 << 16, free - leave))
                f.flush()
            except OSError:  # full
                break
    return path


def _free(disk: Path) -> int:
    st = os.statvfs(disk)
    return st.f_bavail * st.f_frsize


def eventually(check: Callable[[], bool], deadline_s: float = 30.0) -> bool:
    """Polls ``check`` until it holds or ``deadline_s`` passed (no fixed sleeps)."""
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


class FlakyStore:
    """Fails ``failures`` inserts (connection-style), then passes them to ``store``."""

    def __init__(self, store: Store, failures: int, error: type[StoreError] = StoreUnavailable):
        self.store, self.failures, self.error = store, failures, error
        self.url = store.url
        self.tables: list[str] = []

    def insert_native(self, table: str, columns: Any, block: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise self.error("store down")
        self.tables.append(table)
        self.store.insert_native(table, columns, block)
