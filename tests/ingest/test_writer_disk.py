"""The writer with a full spool disk: injected ENOSPC at the file layer (deterministic)
and a real tiny tmpfs filled and freed. The writer never dies, acknowledges nothing it
holds only in memory, says why in its health, and resumes by itself; draining with a
full disk goes on (the cursor is written later)."""

from __future__ import annotations

import builtins
import errno
import os
from pathlib import Path
from typing import IO, Any

import pytest
from conftest import closed_port
from hallkpi.ingest.errors import SpoolDiskFull
from hallkpi.ingest.store import spool as spool_module
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.schema import ensure_schema
from hallkpi.ingest.store.split import frame_batch
from hallkpi.ingest.store.spool import Spool, frames_of
from hallkpi.ingest.store.writer import StoreWriter, WriterConfig
from store_rows import FlakyStore, events, eventually, fill, stored_ids, tiny_disk

QUICK = WriterConfig(max_rows=100_000, retries=1, backoff_s=0.001, backoff_max_s=0.05)


class _FullFile:
    """A file on a full disk: a write gets half its bytes out, then ENOSPC."""

    def __init__(self, f: IO[Any]) -> None:
        self.f = f

    def write(self, data: Any) -> int:
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.f, name)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()


class Disk:
    """``open`` for the spool module: writes fail with ENOSPC while ``full``."""

    def __init__(self, modes: str = "aw") -> None:
        self.full = False
        self.modes = modes

    def __call__(self, file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        f = builtins.open(file, mode, *args, **kw)  # noqa: SIM115 (handed to the caller)
        if self.full and any(m in mode for m in self.modes):
            return _FullFile(f)
        return f


def down() -> Store:
    return Store(f"http://127.0.0.1:{closed_port()}/hallkpi", connect_timeout_s=1)


def spooled_ids(directory: Path) -> list[str]:
    return [i for f in frames_of(Spool(directory)) for i in frame_batch(f).columns["id"].to_list()]


def flush_once_space_returns(w: StoreWriter, deadline_s: float = 30.0) -> None:
    def ok() -> bool:
        try:
            w.flush(5)
        except SpoolDiskFull:
            return False
        return True

    assert eventually(ok, deadline_s)


def test_enospc_on_the_spool_is_held_unacknowledged_and_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = Disk()
    monkeypatch.setattr(spool_module, "open", disk, raising=False)
    w = StoreWriter(down(), Spool(tmp_path), QUICK)
    w.add_events(events(0, 10))
    w.flush(30)  # spooled: the store is out of reach
    (segment,) = tmp_path.glob("*.spool")
    size = segment.stat().st_size
    disk.full = True
    w.add_events(events(10, 10))
    with pytest.raises(SpoolDiskFull, match="No space left"):
        w.flush(30)  # neither in the store nor in the spool: not acknowledged
    assert (w.health() or "").startswith("spool disk full: ")
    assert w._thread.is_alive() and w.stats.disk_full_episodes == 1  # noqa: SLF001 (the writer thread survived)
    assert segment.stat().st_size == size  # the torn append was cut off
    disk.full = False  # space returns: the writer goes on by itself
    flush_once_space_returns(w)
    assert (w.health() or "").startswith("store unreachable, spooling 2 blocks: ")
    w.close(30)
    assert spooled_ids(tmp_path) == [f"e{i}" for i in range(20)]


def test_draining_with_a_full_disk_goes_on_and_writes_the_cursor_later(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = StoreWriter(down(), Spool(tmp_path), QUICK)
    for k in range(3):
        w.add_events(events(10 * k, 10))
        w.flush(30)
    w.close(30)
    assert len(Spool(tmp_path)) == 3
    ensure_schema(store)
    disk = Disk("w")  # cursor.json cannot be written
    monkeypatch.setattr(spool_module, "open", disk, raising=False)
    disk.full = True
    w = StoreWriter(store, Spool(tmp_path), QUICK)
    assert w.wait_idle(30) and w._thread.is_alive()  # noqa: SLF001 (the writer thread survived)
    assert stored_ids(store) == [f"e{i}" for i in range(30)]
    assert w.stats.blocks_drained == 3 and w.stats.rows_written == 30
    health = w.health() or ""
    assert health.startswith("spool disk full: ") and "drain position" in health
    disk.full = False
    assert eventually(lambda: w.health() is None)
    w.close(30)
    assert len(Spool(tmp_path)) == 0  # the position got written


def test_a_tiny_tmpfs_filled_and_freed(store: Store, tmp_path: Path) -> None:
    """A real full disk: the spool on a 256 KiB tmpfs, the store out of reach."""
    with tiny_disk(tmp_path / "disk") as mount:
        spool_dir = mount / "spool"
        w = StoreWriter(down(), Spool(spool_dir), QUICK)
        ballast = fill(mount, leave=48 << 10)
        added = 0
        full = False
        for _ in range(200):  # bounded: each block is about 9 KiB on disk
            w.add_events(events(added, 100))
            added += 100
            try:
                w.flush(30)
            except SpoolDiskFull:
                full = True
                break
        assert full, "the tmpfs never filled"
        assert (w.health() or "").startswith("spool disk full: ")
        assert w._thread.is_alive()  # noqa: SLF001 (the writer thread survived)
        ballast.unlink()  # space returns
        flush_once_space_returns(w)
        w.close(30)
        assert spooled_ids(spool_dir) == [f"e{i}" for i in range(added)]
        ensure_schema(store)  # the store is back: everything goes in
        with StoreWriter(store, Spool(spool_dir), QUICK) as w2:
            assert w2.wait_idle(60)
        assert stored_ids(store) == [f"e{i}" for i in range(added)]


def test_draining_a_tmpfs_with_no_byte_left(store: Store, tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk") as mount:
        spool_dir = mount / "spool"
        w = StoreWriter(down(), Spool(spool_dir), QUICK)
        for k in range(4):
            w.add_events(events(100 * k, 100))
            w.flush(30)
        w.close(30)
        ballast = fill(mount)  # not one byte free: cursor.json cannot be replaced
        ensure_schema(store)
        w2 = StoreWriter(store, Spool(spool_dir), QUICK)
        assert w2.wait_idle(60) and w2._thread.is_alive()  # noqa: SLF001 (the writer thread survived)
        assert len(stored_ids(store)) == 400
        ballast.unlink()
        assert eventually(lambda: w2.health() is None)
        w2.close(30)
        assert len(Spool(spool_dir)) == 0


def test_the_store_back_while_the_disk_is_still_full(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held blocks go straight to the store once it answers, behind the spool's."""
    ensure_schema(store)
    flaky = FlakyStore(store, failures=10**9)  # out of reach
    disk = Disk()
    monkeypatch.setattr(spool_module, "open", disk, raising=False)
    w = StoreWriter(flaky, Spool(tmp_path), QUICK)  # type: ignore[arg-type]
    w.add_events(events(0, 10))
    w.flush(30)  # spooled
    disk.full = True
    w.add_events(events(10, 10))
    with pytest.raises(SpoolDiskFull):
        w.flush(30)
    flaky.failures = 0  # the store is back, the disk still full
    flush_once_space_returns(w)
    assert stored_ids(store) == [f"e{i}" for i in range(20)]
    assert "drain position" in (w.health() or "")
    disk.full = False
    assert eventually(lambda: w.health() is None)
    w.close(30)
    assert len(Spool(tmp_path)) == 0
