"""AMI framing without IO: bytes in, messages out; actions out as bytes.

The Asterisk Manager Interface is a text protocol over TCP: the server first sends a
banner line (``Asterisk Call Manager/11.0.0``), then messages, each a block of
``Key: Value`` lines ended by a blank line. Lines end in CRLF (a bare LF is accepted
too). Keys may repeat in one message and their case varies between Asterisk versions
(``ServicelevelPerf``), so every value is kept and keys compare case-insensitively.

:class:`AmiParser` is incremental: feed it bytes split at any point and it returns the
messages completed so far. Its memory is bounded: a line longer than
``max_line_bytes`` or a message longer than ``max_message_bytes`` raises
:class:`~hallkpi.telephony.errors.AmiProtocolError` as soon as it is seen, and the
parser refuses further input (the connection must be closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Literal

from hallkpi.telephony.errors import AmiProtocolError

BANNER_PREFIX = "Asterisk Call Manager/"
MAX_LINE_BYTES = 64 * 1024
"""Longest line accepted (Asterisk's own lines are far shorter)."""
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Largest message accepted (the output of a big ``Command`` action fits)."""

_KINDS = {"event": "Event", "response": "Response", "action": "Action"}


def _split_line(line: str) -> tuple[str, str]:
    key, sep, value = line.partition(": ")
    if sep:
        return key, value
    key, sep, value = line.partition(":")
    if sep:  # "Key:" or "Key:value" (seen from some PBX forks)
        return key, value[1:] if value.startswith(" ") else value
    return "", line  # a line without a key (old "Response: Follows" command output)


_NEEDLES: dict[tuple[str, str], str] = {}


def _needle(key: str, sep: str) -> str:
    """``sep + "key:"`` in lower case, cached (keys are few)."""
    needle = _NEEDLES.get((key, sep))
    if needle is None:
        needle = sep + key.lower() + ":"
        if len(_NEEDLES) < 4096:
            _NEEDLES[(key, sep)] = needle
    return needle


class Message:
    """One AMI message: an ordered list of ``(key, value)`` fields.

    ``kind`` is ``"Event"``, ``"Response"`` or ``"Action"`` (``""`` when none of those
    keys is present) and ``name`` its value (``"QueueCallerJoin"``, ``"Success"``).
    :meth:`get` and ``msg[key]`` return the first value of a key, compared without
    case; :meth:`get_all` returns every value of a repeated key, :meth:`fields` all of
    them in wire order. The text is split lazily: a message nobody reads costs one
    string, and :meth:`get` finds a key without splitting every line.
    """

    __slots__ = ("_fields", "_lower", "_sep", "_text", "kind", "name")

    def __init__(self, text: str, sep: str = "\r\n") -> None:
        self._text = text
        self._sep = sep
        self._fields: list[tuple[str, str]] | None = None
        self._lower: str | None = None
        if text.startswith("Event: "):
            end = text.find(sep, 7)
            self.kind, self.name = "Event", text[7:end] if end >= 0 else text[7:]
        elif text.startswith("Response: "):
            end = text.find(sep, 10)
            self.kind, self.name = "Response", text[10:end] if end >= 0 else text[10:]
        else:
            self.kind, self.name = self._find_kind()

    @classmethod
    def from_fields(cls, fields: Iterable[tuple[str, str]]) -> Message:
        """A message from ``(key, value)`` pairs (tests, test servers)."""
        return cls("\r\n".join(f"{k}: {v}" for k, v in fields))

    def _find_kind(self) -> tuple[str, str]:
        for key, value in self.fields():
            kind = _KINDS.get(key.lower())
            if kind is not None:
                return kind, value
        return "", ""

    def fields(self) -> list[tuple[str, str]]:
        """Every ``(key, value)`` in wire order, repeated keys included."""
        if self._fields is None:
            self._fields = [_split_line(line) for line in self._text.split(self._sep)]
        return self._fields

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key`` (any case), else ``default``."""
        lower = self._lower
        if lower is None:
            if not self._text.isascii():  # lower() may change lengths: split instead
                return self._get_split(key, default)
            lower = self._lower = self._sep + self._text.lower()
        if not key:
            return self._get_split(key, default)
        needle = _needle(key, self._sep)
        i = lower.find(needle)
        if i < 0:
            return default
        start = i + len(needle)
        if lower[start : start + 1] != " ":  # the first such line is "Key:value": rare
            return self._get_split(key, default)
        text = self._text
        start += 1 - len(self._sep)
        end = text.find(self._sep, start)
        return text[start:end] if end >= 0 else text[start:]

    def _get_split(self, key: str, default: str | None) -> str | None:
        low = key.lower()
        for k, v in self.fields():
            if k.lower() == low:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` (any case), in wire order."""
        low = key.lower()
        return [v for k, v in self.fields() if k.lower() == low]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.fields())

    def __len__(self) -> int:
        return len(self.fields())

    @property
    def action_id(self) -> str | None:
        """The ``ActionID`` of a response, of a list item, or of an event caused by an
        action (possibly another manager's)."""
        return self.get("ActionID")

    def to_bytes(self) -> bytes:
        """The message as it travels (CRLF lines, blank line at the end)."""
        lines = (f"{k}: {v}" if k else v for k, v in self.fields())
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    def __repr__(self) -> str:
        return f"<Message {self.kind}: {self.name} ({len(self)} fields)>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and self.fields() == other.fields()

    __hash__ = None  # type: ignore[assignment]


BannerMode = Literal["required", "optional", "none"]


class AmiParser:
    """Incremental AMI stream parser (bytes in, :class:`Message` out).

    ``banner``: ``"required"`` (a client: the first line must be the AMI banner,
    anything else is a protocol error), ``"optional"`` (a capture file: a banner line
    is recognised when present) or ``"none"`` (a server reading actions). The line
    ending (CRLF, or bare LF in hand-made files) is taken from the first line.
    """

    def __init__(
        self,
        *,
        banner: BannerMode = "required",
        max_line_bytes: int = MAX_LINE_BYTES,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        if max_line_bytes <= 0 or max_message_bytes < max_line_bytes:
            raise ValueError("need 0 < max_line_bytes <= max_message_bytes")
        self.max_line_bytes = max_line_bytes
        self.max_message_bytes = max_message_bytes
        self.banner: str | None = None
        self._banner_mode = banner
        self._want_banner = banner != "none"
        self._buf = bytearray()
        self._crlf: bool | None = None  # line ending, known from the first line
        self._ended_in_cr = False  # while it is not known: the last chunk ended in CR
        self._line = 0  # bytes of the current unterminated line
        self._cr = False  # LF mode: the last chunk ended in CR (its LF may follow)
        self._failed: AmiProtocolError | None = None
        self.bytes_in = 0
        self.messages_out = 0

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete message (bounded by ``max_message_bytes``)."""
        return len(self._buf)

    @property
    def version(self) -> str | None:
        """The AMI version from the banner (``"11.0.0"`` on Asterisk 22)."""
        return self.banner[len(BANNER_PREFIX) :] if self.banner else None

    def _fail(self, why: str) -> AmiProtocolError:
        self._failed = AmiProtocolError(why)
        self._buf = bytearray()
        return self._failed

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        """Adds ``data``; returns the messages it completed, in order."""
        if self._failed is not None:
            raise self._failed
        chunk = bytes(data)
        if not chunk:
            return []
        self.bytes_in += len(chunk)
        if self._crlf is None:
            self._detect_line_ending(chunk)
        if self._crlf is False:
            chunk = self._to_lf(chunk)
        self._bound_line(chunk)
        buf = self._buf
        start = len(buf)
        if self._want_banner:
            buf += chunk
            if not self._take_banner():
                return []
            data, start = buf, 0
        elif start:
            buf += chunk
            data = buf
        else:
            data = chunk
        sep = "\r\n" if self._crlf is not False else "\n"
        term = b"\r\n\r\n" if self._crlf is not False else b"\n\n"
        last = data.rfind(term, max(start - len(term) + 1, 0))
        if last < 0:
            if data is chunk:
                buf += chunk
            self._bound_message()
            return []
        with memoryview(data) as view:
            text = str(view[:last], "utf-8", "replace")
        self._buf = bytearray(data[last + len(term) :])
        out: list[Message] = []
        for block in text.split(sep + sep):
            if not block or block[0] in "\r\n" or block[-1] in "\r\n":
                block = block.strip("\r\n")  # noqa: PLW2901  (extra blank lines)
                if not block:
                    continue
            out.append(Message(block, sep))
        self.messages_out += len(out)
        self._bound_message()
        return out

    def finish(self) -> list[Message]:
        """End of input (a capture file): the last message when it lacks its closing
        blank line. A live connection has no use for it."""
        if self._failed is not None:
            raise self._failed
        tail = self._buf + (b"\r" if self._cr else b"")
        self._buf, self._cr = bytearray(), False
        if self._want_banner and tail.strip():
            self._buf = tail + b"\n"
            self._take_banner()
            tail = self._buf
            self._buf = bytearray()
        sep = "\r\n" if self._crlf is not False else "\n"
        text = tail.decode("utf-8", "replace").strip("\r\n")
        return [Message(text, sep)] if text else []

    def _detect_line_ending(self, chunk: bytes) -> None:
        nl = chunk.find(b"\n")
        if nl > 0:
            self._crlf = chunk[nl - 1] == 13
        elif nl == 0:
            self._crlf = self._ended_in_cr  # (the CR may be gone: a skipped blank line)
        self._ended_in_cr = chunk.endswith(b"\r")

    def _to_lf(self, chunk: bytes) -> bytes:
        if self._cr:
            chunk = b"\r" + chunk
            self._cr = False
        if chunk.endswith(b"\r"):
            self._cr = True
            chunk = chunk[:-1]
        return chunk.replace(b"\r\n", b"\n")

    def _bound_line(self, chunk: bytes) -> None:
        last_nl = chunk.rfind(b"\n")
        if last_nl < 0:
            self._line += len(chunk)
        elif self._line + chunk.find(b"\n") > self.max_line_bytes:
            self._line = self.max_line_bytes + 1  # the carried-over line ended too late
        else:
            self._line = len(chunk) - last_nl - 1
        if self._line > self.max_line_bytes:
            raise self._fail(
                f"an AMI line is longer than {self.max_line_bytes} bytes without an end: "
                "this is not an AMI server, or the stream is corrupt"
            )

    def _bound_message(self) -> None:
        if len(self._buf) > self.max_message_bytes:
            raise self._fail(
                f"an AMI message is larger than {self.max_message_bytes} bytes without an end"
            )

    def _take_banner(self) -> bool:
        """Consumes the banner line once it is complete; False while it is not."""
        buf = self._buf
        while buf.startswith((b"\r", b"\n")):  # tolerate blank lines before it
            del buf[:1]
        nl = buf.find(b"\n")
        if nl < 0:
            if self._banner_mode == "required" and len(buf) >= len(BANNER_PREFIX):
                self._check_banner(buf[: len(BANNER_PREFIX)].decode("utf-8", "replace"))
            return False
        line = buf[:nl].decode("utf-8", "replace").rstrip("\r")
        self._want_banner = False
        if line.startswith(BANNER_PREFIX):
            self.banner = line
            del buf[: nl + 1]
        else:
            self._check_banner(line)
        return True

    def _check_banner(self, line: str) -> None:
        if self._banner_mode == "required" and not line.startswith(BANNER_PREFIX):
            raise self._fail(
                f"expected the AMI banner {BANNER_PREFIX!r}..., got {line[:60]!r}: "
                "is this the Asterisk manager port (5038, or 5039 with TLS)?"
            )


def encode_action(
    action: str,
    action_id: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
) -> bytes:
    """An action as bytes: ``Action``, ``ActionID``, then ``headers`` (pairs may repeat
    a key, e.g. several ``Variable``). CR or LF in a key or value would let a value
    inject headers, so they are refused (ValueError)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lines = [f"Action: {action}", f"ActionID: {action_id}"]
    for key, value in pairs:
        lines.append(f"{key}: {value}")
    for line in lines:
        key = line.partition(": ")[0]
        if "\r" in line or "\n" in line or not key or ":" in key:
            raise ValueError(f"invalid AMI header {line[:60]!r}: no CR/LF, key without ':'")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
