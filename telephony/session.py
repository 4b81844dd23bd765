"""The client side of one AMI connection, without IO: ActionIDs, replies, list actions.

:class:`AmiSession` turns actions into bytes (each with a fresh ``ActionID``) and the
server's bytes into an ordered list of :class:`~hallkpi.telephony.protocol.Message`
(events) and :class:`Reply` (one per finished action). A list action (``QueueStatus``,
``CoreShowChannels``...) answers ``Response: Success`` with ``EventList: start``, then
items tagged with its ActionID, then an event with ``EventList: Complete``: its
:class:`Reply` comes after that last event and holds the items. The items are also
returned in stream order, so a consumer can see them where they happened relative
to live events. Responses and events with ActionIDs this session never sent (another
manager's ``OriginateResponse``) are not replies: foreign responses are counted and
dropped, foreign events pass as ordinary events.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hallkpi.telephony.errors import AmiActionError, AmiAuthError
from hallkpi.telephony.protocol import (
    MAX_LINE_BYTES,
    MAX_MESSAGE_BYTES,
    AmiParser,
    BannerMode,
    Message,
    encode_action,
)

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
_OK = frozenset({"success", "goodbye", "follows", "pong"})


@dataclass(frozen=True, eq=False)
class Reply:
    """The answer to one action: its response and, for a list action, its items
    (without the final ``...Complete`` event, which is ``complete``)."""

    action: str
    action_id: str
    response: Message
    items: tuple[Message, ...] = ()
    complete: Message | None = None

    @property
    def ok(self) -> bool:
        """True for ``Response: Success`` (or ``Goodbye``/``Follows``)."""
        return self.response.name.lower() in _OK

    @property
    def message(self) -> str:
        """The server's ``Message`` text (empty when absent)."""
        return self.response.get("Message") or ""

    def raise_for_error(self) -> Reply:
        """Returns self when ok; raises AmiAuthError for a refused Login, else
        AmiActionError with the server's message."""
        if self.ok:
            return self
        if self.action.lower() == "login":
            raise AmiAuthError(
                f"the AMI server refused the login ({self.message or 'no reason given'}): "
                "check the username, the secret and the user's permit/deny in manager.conf"
            )
        raise AmiActionError(self.action, self.message, self)

    def output(self) -> list[str]:
        """The CLI output of a ``Command`` action, one string per line (``Output:``
        lines on Asterisk 14+, key-less lines of ``Response: Follows`` before)."""
        lines = [v for k, v in self.response.fields() if k.lower() == "output" or not k]
        if lines and lines[-1].strip() in ("", "--END COMMAND--"):
            lines.pop()
        return lines


class _Pending:
    __slots__ = ("action", "items", "response")

    def __init__(self, action: str) -> None:
        self.action = action
        self.response: Message | None = None
        self.items: list[Message] = []


class AmiSession:
    """One AMI connection's client-side state machine (sans-IO).

    ``receive(data)`` returns events and replies in stream order; ``action(...)``
    returns ``(action_id, bytes)`` to write. ``banner`` is the server's banner once
    read, ``authenticated`` turns true with a successful Login, ``booted`` with the
    ``FullyBooted`` event, ``closing`` with ``Goodbye`` or ``Shutdown`` (and
    ``closing_reason`` says which).
    """

    def __init__(
        self,
        *,
        id_prefix: str | None = None,
        banner: BannerMode = "required",
        max_line_bytes: int = MAX_LINE_BYTES,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.parser = AmiParser(
            banner=banner, max_line_bytes=max_line_bytes, max_message_bytes=max_message_bytes
        )
        # A random prefix tells our ActionIDs from other managers' and earlier sessions'.
        self._prefix = id_prefix if id_prefix is not None else f"hk{secrets.token_hex(3)}-"
        self._count = 0
        self._pending: dict[str, _Pending] = {}
        self._login_id: str | None = None
        self.authenticated = False
        self.booted = False
        self.closing = False
        self.closing_reason = ""
        self.foreign_responses = 0

    @property
    def banner(self) -> str | None:
        """``Asterisk Call Manager/11.0.0`` once received."""
        return self.parser.banner

    @property
    def pending(self) -> int:
        """Actions sent and not answered yet."""
        return len(self._pending)

    def action(self, name: str, headers: Headers = ()) -> tuple[str, bytes]:
        """Registers an action; returns its ActionID and the bytes to send."""
        self._count += 1
        action_id = f"{self._prefix}{self._count}"
        data = encode_action(name, action_id, headers)
        self._pending[action_id] = _Pending(name)
        return action_id, data

    def login(self, username: str, secret: str, *, events: str = "on") -> tuple[str, bytes]:
        """A plain-text Login (``events``: ``on``, ``off`` or a class mask such as
        ``system,call,agent,user``)."""
        action_id, data = self.action(
            "Login", [("Username", username), ("Secret", secret), ("Events", events)]
        )
        self._login_id = action_id
        return action_id, data

    def forget(self, action_id: str) -> None:
        """Stops waiting for an action's reply (after a timeout)."""
        self._pending.pop(action_id, None)

    def receive(self, data: bytes | bytearray | memoryview) -> list[Message | Reply]:
        """Parses ``data``; returns events and finished replies in stream order.
        Raises AmiProtocolError when the stream is not AMI."""
        out: list[Message | Reply] = []
        for msg in self.parser.feed(data):
            if msg.kind == "Response":
                self._on_response(msg, out)
                continue
            out.append(msg)
            if self._pending:
                action_id = msg.action_id
                pending = self._pending.get(action_id) if action_id else None
                if pending is not None and pending.response is not None and action_id:
                    if (msg.get("EventList") or "").lower() == "complete":
                        del self._pending[action_id]
                        out.append(
                            Reply(
                                pending.action, action_id, pending.response, (*pending.items,), msg
                            )
                        )
                    else:
                        pending.items.append(msg)
                    continue
            name = msg.name
            if name == "FullyBooted":
                self.booted = True
            elif name == "Shutdown":
                self.closing = True
                self.closing_reason = "Asterisk is shutting down"
        return out

    def _on_response(self, msg: Message, out: list[Message | Reply]) -> None:
        action_id = msg.action_id
        pending = self._pending.get(action_id) if action_id else None
        if pending is None or action_id is None:
            self.foreign_responses += 1
            return
        if msg.name.lower() == "success" and (msg.get("EventList") or "").lower() == "start":
            pending.response = msg  # items follow
            return
        del self._pending[action_id]
        reply = Reply(pending.action, action_id, msg)
        if action_id == self._login_id:
            self.authenticated = reply.ok
        if msg.name.lower() == "goodbye":
            self.closing = True
            self.closing_reason = "logged off"
        out.append(reply)
