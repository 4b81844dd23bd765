"""A loopback AMI server for tests, speaking the real framing (banner, CRLF
``Key: Value`` blocks, ActionIDs, event lists), and a proxy that cuts connections.

It answers what the live captures show Asterisk 22.10.1 answering: Login (success
with ``FullyBooted``; a wrong secret gets ``Response: Error`` and the socket is
closed), Ping, QueueStatus (a configurable snapshot), Events, Command, QueuePause
without its parameters, unknown actions, Logoff (``Goodbye``, then close). After a
login it replays ``stream`` (captured bytes; a list: one per login) in batches of whole
messages, each batch
written in randomly sized pieces so that the client sees every kind of split; the
replies to actions go between batches, never inside a message. ``freeze()`` makes it
a frozen Asterisk: sockets stay open, nothing is answered. ``restart()`` drops every
connection after a ``Shutdown`` event (the client reads EOF).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from collections.abc import Sequence

from hallkpi.telephony.protocol import AmiParser, Message

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
Fields = Sequence[tuple[str, str]]


def frame(fields: Fields) -> bytes:
    """One AMI message as bytes."""
    return ("\r\n".join(f"{k}: {v}" for k, v in fields) + "\r\n\r\n").encode()


def split_messages(data: bytes) -> list[bytes]:
    """A capture's messages as separate byte strings (banner line dropped)."""
    if data.startswith(b"Asterisk Call Manager/"):
        data = data[data.index(b"\n") + 1 :]
    return [part + b"\r\n\r\n" for part in data.split(b"\r\n\r\n") if part.strip()]


class _Conn:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.lock = asyncio.Lock()
        self.authenticated = False
        self.stream = -1  # which of the server's streams this connection replays
        self.replay: asyncio.Task[None] | None = None


class FakeAsterisk:
    """The loopback server. ``await start()`` returns its port."""

    def __init__(
        self,
        *,
        username: str = "kpi",
        secret: str = "kpisecret",
        stream: bytes | Sequence[bytes] = b"",
        queue_status: Sequence[Fields] = (),
        seed: int = 0,
        max_piece: int = 97,
        boot: bool = True,
        tls: ssl.SSLContext | None = None,
        replay_after: str = "login",
    ) -> None:
        self.username, self.secret = username, secret
        streams = [stream] if isinstance(stream, bytes) else list(stream)
        self.streams = [split_messages(data) for data in streams]  # one per login
        self.queue_status = list(queue_status)
        self.rng = random.Random(seed)
        self.max_piece = max_piece
        self.boot = boot
        self.tls = tls
        self.replay_after = replay_after.lower()  # "login", or "queuestatus" (deterministic)
        self.frozen = False
        self.port = 0
        self.logins = 0
        self.failed_logins = 0
        self.actions: list[Message] = []
        self.replayed = asyncio.Event()  # set when a connection has sent all of `stream`
        self.login_event = asyncio.Event()  # set (and cleared by tests) at each login
        self.action_event = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def __aenter__(self) -> FakeAsterisk:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.drop_all()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def freeze(self) -> None:
        """A frozen Asterisk: the socket stays open, nothing more is sent or answered."""
        self.frozen = True

    async def restart(self, *, queue_status: Sequence[Fields] | None = None) -> None:
        """Asterisk restarted: ``Shutdown`` then EOF on every connection; new logins
        get ``FullyBooted`` and the new ``queue_status``."""
        for conn in list(self._conns):
            with contextlib.suppress(ConnectionError):
                await self._send(conn, frame([("Event", "Shutdown"), ("Shutdown", "Cleanly")]))
        await self.drop_all()
        if queue_status is not None:
            self.queue_status = list(queue_status)
        self.frozen = False

    async def drop_all(self) -> None:
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def push(self, fields: Fields) -> None:
        """Sends one event to every logged-in connection."""
        for conn in list(self._conns):
            if conn.authenticated:
                await self._send(conn, frame(fields))

    # --- connection handling ---------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        conn = _Conn(writer)
        self._conns.add(conn)
        parser = AmiParser(banner="none")
        try:
            await self._send(conn, BANNER)
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                for msg in parser.feed(data):
                    if self.frozen:
                        continue
                    self.actions.append(msg)
                    if not await self._action(conn, msg):
                        return
                    self.action_event.set()
                    if msg.name.lower() == self.replay_after and conn.replay is None:
                        self._start_replay(conn)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:  # see CuttingProxy._serve: this task must not end cancelled
            self._conns.discard(conn)
            writer.close()
            if conn.replay is not None:
                conn.replay.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, ssl.SSLError):
                if conn.replay is not None:
                    await asyncio.gather(conn.replay, return_exceptions=True)
                await writer.wait_closed()
            self._handlers.discard(task)

    async def _send(self, conn: _Conn, data: bytes) -> None:
        async with conn.lock:
            conn.writer.write(data)
            await conn.writer.drain()

    async def _action(self, conn: _Conn, msg: Message) -> bool:
        """Answers one action; False when the connection must close."""
        aid = msg.get("ActionID") or ""
        name = (msg.name or "").lower()
        ok: list[tuple[str, str]] = [("Response", "Success"), ("ActionID", aid)]
        if name == "login":
            if msg.get("Username") != self.username or msg.get("Secret") != self.secret:
                self.failed_logins += 1
                await self._send(
                    conn,
                    frame(
                        [
                            ("Response", "Error"),
                            ("ActionID", aid),
                            ("Message", "Authentication failed"),
                        ]
                    ),
                )
                return False
            conn.authenticated = True
            self.logins += 1
            await self._send(conn, frame([*ok, ("Message", "Authentication accepted")]))
            if self.boot and (msg.get("Events") or "on").lower() != "off":
                await self._send(
                    conn,
                    frame(
                        [
                            ("Event", "FullyBooted"),
                            ("Privilege", "system,all"),
                            ("Uptime", "4"),
                            ("LastReload", "4"),
                            ("Status", "Fully Booted"),
                        ]
                    ),
                )
            conn.stream = self.logins - 1
            self.login_event.set()
        elif name == "ping":
            await self._send(
                conn, frame([*ok, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])
            )
        elif name == "queuestatus":
            out = frame([*ok, ("EventList", "start"), ("Message", "Queue status will follow")])
            for item in self.queue_status:
                out += frame([*item, ("ActionID", aid)])
            out += frame(
                [
                    ("Event", "QueueStatusComplete"),
                    ("ActionID", aid),
                    ("EventList", "Complete"),
                    ("ListItems", str(len(self.queue_status))),
                ]
            )
            await self._send(conn, out)
        elif name == "events":
            mask = msg.get("EventMask") or "off"
            await self._send(
                conn, frame([*ok, ("Events", "Off" if mask.lower() == "off" else "On")])
            )
        elif name == "command":
            lines = [f"{msg.get('Command')}: 0 calls", "   No Callers", ""]
            await self._send(
                conn,
                frame(
                    [
                        *ok,
                        ("Message", "Command output follows"),
                        *(("Output", line) for line in lines),
                    ]
                ),
            )
        elif name == "queuepause" and not msg.get("Interface"):
            await self._send(
                conn,
                frame(
                    [
                        ("Response", "Error"),
                        ("ActionID", aid),
                        ("Message", "Need 'Interface' and 'Paused' parameters."),
                    ]
                ),
            )
        elif name == "logoff":
            await self._send(
                conn,
                frame(
                    [
                        ("Response", "Goodbye"),
                        ("ActionID", aid),
                        ("Message", "Thanks for all the fish."),
                    ]
                ),
            )
            return False
        else:
            text = (
                f"Invalid/unknown command: {msg.name}. "
                "Use Action: ListCommands to show available commands."
            )
            await self._send(
                conn, frame([("Response", "Error"), ("ActionID", aid), ("Message", text)])
            )
        return True

    def _start_replay(self, conn: _Conn) -> None:
        if 0 <= conn.stream < len(self.streams) and self.streams[conn.stream]:
            conn.replay = asyncio.create_task(self._replay(conn, conn.stream))

    async def _replay(self, conn: _Conn, index: int) -> None:
        rng, todo = self.rng, list(self.streams[index])
        while todo:
            take = rng.randint(1, 4)
            batch, todo = b"".join(todo[:take]), todo[take:]
            async with conn.lock:  # replies wait: they never land inside a message
                at = 0
                while at < len(batch):
                    if self.frozen:
                        return
                    piece = batch[at : at + rng.randint(1, self.max_piece)]
                    conn.writer.write(piece)
                    await conn.writer.drain()
                    at += len(piece)
                    await asyncio.sleep(0)  # let the client read a partial message
        self.replayed.set()


class CuttingProxy:
    """Forwards TCP to ``port``; the server-to-client direction is cut (both sockets
    aborted) after ``cut_after`` bytes on the first connection, mid-message."""

    def __init__(self, port: int, cut_after: int) -> None:
        self.target, self.cut_after = port, cut_after
        self.port = 0
        self.cuts = 0
        self.cut_event = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        # A client_connected_cb task must not end cancelled: Python 3.11 would log an
        # error and leave its transport open. So every path ends here normally.
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        pumps: list[asyncio.Task[None]] = []
        writers = [cwriter]
        try:
            sreader, swriter = await asyncio.open_connection("127.0.0.1", self.target)
            writers.append(swriter)
            limit = self.cut_after if self.cuts == 0 else None
            pumps += [
                asyncio.create_task(self._pump(creader, swriter, None)),
                asyncio.create_task(self._pump(sreader, cwriter, limit)),
            ]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            for writer in writers:
                writer.transport.abort()
            for pump in pumps:
                pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pumps, return_exceptions=True)
            self._tasks.discard(task)

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, budget: int | None
    ) -> None:
        sent = 0
        while data := await src.read(4096):
            if budget is not None and sent + len(data) >= budget:
                dst.write(data[: budget - sent])
                await dst.drain()
                self.cuts += 1
                self.cut_event.set()
                return
            dst.write(data)
            await dst.drain()
            sent += len(data)
