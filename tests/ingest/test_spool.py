"""The durable spool: order, durability across reopen, torn tails, damage, files."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from hallkpi.ingest.errors import SpoolCorrupt
from hallkpi.ingest.store.spool import Frame, Spool, SpoolFull, frames_of


def frame(i: int, size: int = 10) -> Frame:
    return Frame("events", ("id", "ts"), bytes([i % 256]) * size)


def test_frames_come_back_in_order_across_reopen(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    for i in range(5):
        s.append(frame(i))
    assert s.peek() == frame(0)
    s.pop()
    again = Spool(tmp_path)  # a restart: the consumed frame stays consumed
    assert len(again) == 4
    got: list[Frame] = []
    assert again.drain(got.append) == 4
    assert got == [frame(i) for i in range(1, 5)]
    assert len(Spool(tmp_path)) == 0


def test_drain_stops_at_the_first_failure_and_keeps_the_frame(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    for i in range(3):
        s.append(frame(i))
    seen: list[Frame] = []

    def insert(f: Frame) -> None:
        if len(seen) == 1:
            raise ConnectionError("down")
        seen.append(f)

    with pytest.raises(ConnectionError):
        s.drain(insert)
    assert seen == [frame(0)] and len(s) == 2 and s.peek() == frame(1)


def test_a_torn_last_frame_is_cut_off(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    s.append(frame(1))
    s.append(frame(2))
    path = next(tmp_path.glob("*.spool"))
    data = path.read_bytes()
    path.write_bytes(data[:-3])  # a crash in the middle of the second append
    again = Spool(tmp_path)
    assert frames_of(again) == [frame(1)]
    again.append(frame(3))
    assert frames_of(Spool(tmp_path)) == [frame(1), frame(3)]


def test_a_damaged_frame_before_the_end_is_an_error(tmp_path: Path) -> None:
    s = Spool(tmp_path)
    s.append(frame(1, 100))
    s.append(frame(2, 100))
    path = next(tmp_path.glob("*.spool"))
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF  # inside the first frame's payload
    path.write_bytes(bytes(data))
    with pytest.raises(SpoolCorrupt):
        Spool(tmp_path)


def test_files_roll_over_and_are_deleted_once_consumed(tmp_path: Path) -> None:
    s = Spool(tmp_path, segment_bytes=200)
    for i in range(6):
        s.append(frame(i, 100))
    assert len(list(tmp_path.glob("*.spool"))) == 6
    s.drain(lambda f: None, limit=4)
    assert len(list(tmp_path.glob("*.spool"))) == 2
    s.drain(lambda f: None)
    s.append(frame(9))  # a fresh file once everything is consumed
    assert len(list(tmp_path.glob("*.spool"))) == 1
    assert frames_of(Spool(tmp_path)) == [frame(9)]


def test_the_size_limit(tmp_path: Path) -> None:
    s = Spool(tmp_path, max_bytes=150)
    s.append(frame(1, 100))
    with pytest.raises(SpoolFull):
        s.append(frame(2, 100))


def test_a_fresh_file_never_reuses_the_cursors_number(tmp_path: Path) -> None:
    """A cursor naming a consumed, deleted file (its write succeeded, the next append
    failed): new frames must not land in a file read from the cursor's offset."""
    (tmp_path / "cursor.json").write_text("[3, 500]")
    s = Spool(tmp_path)
    s.append(frame(1))
    s.append(frame(2))
    assert frames_of(Spool(tmp_path)) == [frame(1), frame(2)]


def test_a_failed_append_is_cut_off_and_the_next_one_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Spool(tmp_path)
    s.append(frame(1))
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync_full(fd: int) -> None:  # the data went out, the disk says no at fsync
        calls["n"] += 1
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync_full)
    with pytest.raises(OSError, match="No space"):
        s.append(frame(2, 300))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert calls["n"] == 1 and len(s) == 1
    s.append(frame(3))
    assert frames_of(Spool(tmp_path)) == [frame(1), frame(3)]


def test_consuming_goes_on_when_the_cursor_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Spool(tmp_path, segment_bytes=60)
    for i in range(4):
        s.append(frame(i, 30))  # a file each
    real_replace = os.replace

    def replace_full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", replace_full)
    got: list[Frame] = []
    assert s.drain(got.append, limit=2) == 2  # no exception: the position waits in memory
    assert isinstance(s.cursor_error, OSError) and len(s) == 2
    # a restart now would re-send, never skip (consumed files are gone already)
    assert frames_of(Spool(tmp_path)) == [frame(2, 30), frame(3, 30)]
    assert not (tmp_path / "cursor.json").exists()  # no position was written
    monkeypatch.setattr(os, "replace", real_replace)
    assert s.sync() and s.cursor_error is None
    assert frames_of(Spool(tmp_path)) == [frame(2, 30), frame(3, 30)]
