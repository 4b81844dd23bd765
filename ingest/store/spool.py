"""A durable, append-only spool of insert batches for when the store is unreachable.

Files ``NNNNNNNN.spool`` in one directory hold frames: ``b"HKS1"``, the payload length
(u32 LE), the CRC-32 of the payload (u32 LE), the payload (table name, column names,
one Native block). :meth:`Spool.append` returns once the frame is fsynced. Frames are
consumed oldest first; the position of the oldest unconsumed frame is kept in
``cursor.json`` (replaced atomically), and a fully consumed file is deleted. A crash
while appending leaves a torn last frame, which is cut off on open (it was never
acknowledged); a damaged frame before the end raises SpoolCorrupt.

A full disk (or any OSError) never leaves the spool damaged: a failed append is cut
off again (or before the next append) and raises; consuming goes on when the cursor
cannot be written (the position is kept in memory and written at the next chance, so a
crash meanwhile only re-sends frames, which the store's inserts make harmless).
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hallkpi.ingest.errors import SpoolCorrupt, StoreError

MAGIC = b"HKS1"
_HEADER = struct.Struct("<4sII")
_SUFFIX = ".spool"


class SpoolFull(StoreError, OSError):
    """The spool reached its size limit."""


@dataclass(frozen=True)
class Frame:
    """One spooled batch: a Native block for ``table`` with ``columns``."""

    table: str
    columns: tuple[str, ...]
    block: bytes

    def encode(self) -> bytes:
        head = json.dumps([self.table, list(self.columns)]).encode()
        return struct.pack("<I", len(head)) + head + self.block

    @property
    def rows(self) -> int:
        """The row count of the block (from its header)."""
        pos = shift = 0
        for _ in range(2):  # the column count, then the row count (LEB128 each)
            value = shift = 0
            while True:
                byte = self.block[pos]
                pos += 1
                value |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
        return value

    @classmethod
    def decode(cls, payload: bytes) -> Frame:
        (n,) = struct.unpack_from("<I", payload)
        table, columns = json.loads(payload[4 : 4 + n])
        return cls(table, tuple(columns), payload[4 + n :])


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """Append-only frames in ``directory``; thread-safe."""

    def __init__(
        self, directory: str | Path, *, segment_bytes: int = 64 << 20, max_bytes: int = 4 << 30
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # (segment number, offset of the frame header, total frame size)
        self._frames: deque[tuple[int, int, int]] = deque()
        self._bytes = 0
        self._torn: tuple[Path, int] | None = None  # a failed append not yet cut off
        self._cursor_due: tuple[int, int] | None = None  # a position not yet written
        self._stale: list[Path] = []  # consumed files to delete once the cursor is written
        self.cursor_error: OSError | None = None
        """Why the last cursor write failed (None once one succeeded)."""
        self._load()

    # -- opening ---------------------------------------------------------------
    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.dir.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def _path(self, segment: int) -> Path:
        return self.dir / f"{segment:08d}{_SUFFIX}"

    def _cursor(self) -> tuple[int, int]:
        try:
            seg, off = json.loads((self.dir / "cursor.json").read_text())
            return int(seg), int(off)
        except FileNotFoundError:
            return 0, 0
        except (ValueError, TypeError) as exc:
            raise SpoolCorrupt(f"{self.dir}/cursor.json is damaged: {exc}") from exc

    def _load(self) -> None:
        cur_seg, cur_off = self._cursor()
        for seg in self._segments():
            if seg < cur_seg:
                self._path(seg).unlink()  # consumed before a crash, not yet deleted
        segments = self._segments()
        for i, seg in enumerate(segments):
            start = cur_off if seg == cur_seg else 0
            self._scan(seg, start, last=i == len(segments) - 1)
        # never reuse the cursor's file number for a fresh file: the cursor's offset
        # would skip its first frames
        self._segment = segments[-1] if segments else cur_seg + 1

    def _scan(self, seg: int, start: int, *, last: bool) -> None:
        path = self._path(seg)
        data = path.read_bytes()
        pos = start
        while pos < len(data):
            ok = pos + _HEADER.size <= len(data)
            if ok:
                magic, length, crc = _HEADER.unpack_from(data, pos)
                end = pos + _HEADER.size + length
                ok = magic == MAGIC and end <= len(data)
                ok = ok and zlib.crc32(data[pos + _HEADER.size : end]) == crc
            if not ok:
                if last and self._is_torn_tail(data, pos):
                    with open(path, "r+b") as f:  # an unacknowledged, torn append
                        f.truncate(pos)
                        os.fsync(f.fileno())
                    return
                raise SpoolCorrupt(f"{path}: damaged frame at byte {pos}; move the file away")
            self._frames.append((seg, pos, end - pos))
            self._bytes += end - pos
            pos = end

    @staticmethod
    def _is_torn_tail(data: bytes, pos: int) -> bool:
        """A damaged frame is a torn append when no valid frame header follows it."""
        return data.find(MAGIC, pos + 1) < 0

    # -- appending -------------------------------------------------------------
    def append(self, frame: Frame) -> None:
        """Writes ``frame`` durably (fsynced) after every earlier frame. Raises OSError
        (``SpoolFull`` at ``max_bytes``) with the spool as it was before."""
        payload = frame.encode()
        record = _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            if self._bytes + len(record) > self.max_bytes:
                raise SpoolFull(f"spool {self.dir} is full ({self._bytes} bytes)")
            self._cut_torn()
            if self._torn is not None:
                raise OSError(f"{self._torn[0]}: a failed append is not cut off yet")
            path = self._path(self._segment)
            size = path.stat().st_size if path.exists() else 0
            if size and (not self._frames or size + len(record) > self.segment_bytes):
                # a new file; an old one with nothing pending goes once the cursor is past it
                old, self._segment = path, self._segment + 1
                path, size = self._path(self._segment), 0
                if not self._frames:
                    self._stale.append(old)
                    self._cursor_due = (self._segment, 0)
                    self._try_cursor()
            new = not path.exists()
            try:
                with open(path, "ab") as f:
                    f.write(record)
                    f.flush()
                    os.fsync(f.fileno())
                if new:
                    _fsync_dir(self.dir)
            except OSError:
                self._torn = (path, size)
                self._cut_torn()
                raise
            self._frames.append((self._segment, size, len(record)))
            self._bytes += len(record)

    def _cut_torn(self) -> None:
        """Cuts off the bytes of a failed append (a truncate needs no free space)."""
        if self._torn is None:
            return
        path, size = self._torn
        try:
            if path.exists():
                os.truncate(path, size)
        except OSError:
            return  # tried again before the next append, which cannot go on before
        self._torn = None

    # -- consuming -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._frames)

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def peek(self) -> Frame | None:
        """The oldest unconsumed frame, or None."""
        with self._lock:
            if not self._frames:
                return None
            seg, off, size = self._frames[0]
        with open(self._path(seg), "rb") as f:
            f.seek(off + _HEADER.size)
            return Frame.decode(f.read(size - _HEADER.size))

    def pop(self) -> None:
        """Marks the oldest frame consumed and deletes a finished file. The position is
        written durably when possible; when not (a full disk), ``cursor_error`` says
        why and the next ``pop``, ``append`` or ``sync`` writes it."""
        with self._lock:
            seg, off, size = self._frames.popleft()
            self._bytes -= size
            nxt = self._frames[0][:2] if self._frames else (seg, off + size)
            if nxt[0] != seg and seg != self._segment:
                # Safe before the cursor is written: a cursor naming a missing file
                # means its next file is read from the start.
                self._path(seg).unlink(missing_ok=True)
            self._cursor_due = nxt
            self._try_cursor()

    def sync(self) -> bool:
        """Writes a position that could not be written before; True when none waits."""
        with self._lock:
            self._cut_torn()
            return self._try_cursor()

    def _try_cursor(self) -> bool:
        if self._cursor_due is None:
            return True
        try:
            self._write_cursor(self._cursor_due)
        except OSError as exc:
            self.cursor_error = exc
            return False
        self._cursor_due, self.cursor_error = None, None
        for old in self._stale:
            old.unlink(missing_ok=True)
        self._stale.clear()
        return True

    def _write_cursor(self, position: tuple[int, int]) -> None:
        tmp = self.dir / "cursor.json.tmp"
        with open(tmp, "w") as f:
            json.dump(list(position), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.dir / "cursor.json")
        _fsync_dir(self.dir)

    def drain(self, insert: Callable[[Frame], None], *, limit: int | None = None) -> int:
        """Hands frames to ``insert`` oldest first, consuming each once it returns; stops
        at the first exception (re-raised) or after ``limit`` frames. Returns how many."""
        done = 0
        while limit is None or done < limit:
            frame = self.peek()
            if frame is None:
                break
            insert(frame)
            self.pop()
            done += 1
        return done


def frames_of(spool: Spool) -> Sequence[Frame]:
    """Every pending frame, oldest first (for inspection and tests)."""
    out = []
    with spool._lock:  # noqa: SLF001 (Spool's own module, read-only inspection)
        entries = list(spool._frames)  # noqa: SLF001 (Spool's own module, read-only inspection)
    for seg, off, size in entries:
        with open(spool._path(seg), "rb") as f:  # noqa: SLF001 (Spool's own module, read-only inspection)
            f.seek(off + _HEADER.size)
            out.append(Frame.decode(f.read(size - _HEADER.size)))
    return out
