"""A thin asyncio shell around :class:`~hallkpi.telephony.session.AmiSession`: one
logged-in AMI connection.

::

    async with AmiClient(AmiServer.from_url("ami://kpi@127.0.0.1", secret=s)) as ami:
        reply = await ami.action("QueueStatus")      # Reply: response + list items
        async for message in ami:                    # events, in arrival order
            ...

``connect`` reads the banner and logs in (a refused login raises
:class:`~hallkpi.telephony.errors.AmiAuthError`, never retried here). A watchdog sends
``Ping`` every ``ping_interval_s``; a reply missing for one more interval means a
frozen server (a frozen Asterisk keeps its socket open): the connection is dropped
and the iteration raises :class:`~hallkpi.telephony.errors.AmiTimeout`. End of stream,
a cut socket or a protocol error raise
:class:`~hallkpi.telephony.errors.AmiConnectionLost`. Reconnecting is the caller's
choice; :class:`~hallkpi.telephony.source.CallEventSource` does it.

Events wait in a bounded queue: iterate the client, or log in with ``events="off"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

from hallkpi.telephony.config import AmiServer, ClientOptions
from hallkpi.telephony.errors import AmiConnectionLost, AmiError, AmiTimeout
from hallkpi.telephony.protocol import Message
from hallkpi.telephony.session import AmiSession, Headers, Reply

log = logging.getLogger("hallkpi.telephony")
_END = Message("")  # wakes the iterator when the connection ends
READ_SIZE = 64 * 1024


class AmiClient:
    """One connection to an Asterisk manager, logged in (asyncio)."""

    def __init__(
        self,
        server: AmiServer,
        options: ClientOptions | None = None,
        *,
        queue_size: int = 10_000,
    ) -> None:
        self.server = server
        self.options = options or ClientOptions()
        self.session = AmiSession()
        self._queue_size = queue_size
        self._queue: asyncio.Queue[Message] | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._waiters: dict[str, asyncio.Future[Reply]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._error: AmiError | None = None
        self._closing = False
        self._banner = asyncio.Event()
        self._booted = asyncio.Event()

    @property
    def banner(self) -> str | None:
        """``Asterisk Call Manager/11.0.0`` once connected."""
        return self.session.banner

    @property
    def error(self) -> AmiError | None:
        """Why the connection ended, or None while it lives."""
        return self._error

    async def __aenter__(self) -> AmiClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Opens the connection, reads the banner, logs in, starts the watchdog."""
        server, opts = self.server, self.options
        self._queue = asyncio.Queue(self._queue_size)
        try:
            async with asyncio.timeout(opts.timeout_s):
                self._reader, self._writer = await asyncio.open_connection(
                    server.host, server.port, ssl=server.ssl_context(), limit=READ_SIZE
                )
        except TimeoutError:
            raise AmiTimeout(f"{server.label}: no connection within {opts.timeout_s:g} s") from None
        except OSError as exc:
            raise AmiConnectionLost(f"{server.label}: cannot connect: {exc}") from exc
        self._tasks.append(asyncio.create_task(self._read(), name=f"ami-read {server.label}"))
        try:
            try:
                async with asyncio.timeout(opts.timeout_s):
                    await self._banner.wait()
            except TimeoutError:
                raise AmiTimeout(
                    f"{server.label}: no AMI banner within {opts.timeout_s:g} s"
                ) from None
            if self._error is not None:
                raise self._error
            action_id, data = self.session.login(server.username, server.secret, events=opts.events)
            reply = await self._request("Login", action_id, data, opts.timeout_s)
            reply.raise_for_error()
            log.info("%s: logged in (%s)", server.label, self.banner)
            watchdog = self._watchdog()
            self._tasks.append(asyncio.create_task(watchdog, name=f"ami-ping {server.label}"))
        except BaseException:
            await self._shutdown()
            raise

    async def action(
        self, name: str, headers: Headers = (), *, timeout: float | None = None, check: bool = True
    ) -> Reply:
        """Sends an action and waits for its reply (a list action: until its last
        item). Raises AmiActionError on ``Response: Error`` unless ``check=False``,
        AmiTimeout after ``timeout`` seconds (default ``options.timeout_s``)."""
        action_id, data = self.session.action(name, headers)
        reply = await self._request(name, action_id, data, timeout or self.options.timeout_s)
        return reply.raise_for_error() if check else reply

    async def ping(self) -> Reply:
        """``Ping`` (the server answers ``Ping: Pong`` and its time)."""
        return await self.action("Ping")

    async def command(self, command: str) -> list[str]:
        """The output lines of a CLI command (needs the ``command`` write permission)."""
        return (await self.action("Command", {"Command": command})).output()

    async def wait_booted(self, timeout: float | None = None) -> bool:
        """True once ``FullyBooted`` came, False after ``timeout`` s (default
        ``options.boot_timeout_s``). Without the ``system`` event class it never comes."""
        try:
            async with asyncio.timeout(self.options.boot_timeout_s if timeout is None else timeout):
                await self._booted.wait()
        except TimeoutError:
            return False
        if self._error is not None:
            raise self._error
        return True

    def __aiter__(self) -> AmiClient:
        return self

    async def __anext__(self) -> Message:
        """The next event (list items of actions included). Raises the reason when the
        connection ends; stops after :meth:`close`."""
        queue = self._queue
        if queue is None:
            raise AmiConnectionLost(f"{self.server.label}: not connected")
        while True:
            if queue.empty():
                if self._closing:
                    raise StopAsyncIteration
                if self._error is not None:
                    raise self._error
            item = await queue.get()
            if item is not _END:
                return item

    async def close(self) -> None:
        """Logs off (when still connected) and closes the connection. Idempotent."""
        if self._closing:
            return
        self._closing = True
        if self._error is None and self.session.authenticated:
            with contextlib.suppress(AmiError):
                await self.action("Logoff", timeout=min(2.0, self.options.timeout_s), check=False)
        await self._shutdown()

    # --- internals -----------------------------------------------------------------

    async def _request(self, name: str, action_id: str, data: bytes, timeout: float) -> Reply:
        if self._error is not None:
            raise self._error
        writer = self._writer
        assert writer is not None, "connect() first"
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiters[action_id] = future
        try:
            writer.write(data)
            async with asyncio.timeout(timeout):
                await writer.drain()
                return await future
        except AmiError:
            raise  # the connection ended (the watchdog's AmiTimeout included)
        except TimeoutError:
            raise AmiTimeout(
                f"{self.server.label}: no reply to {name} within {timeout:g} s"
            ) from None
        except OSError as exc:
            lost = AmiConnectionLost(f"{self.server.label}: connection lost: {exc}")
            raise self._lost(lost) from exc
        finally:
            self._waiters.pop(action_id, None)
            self.session.forget(action_id)

    async def _read(self) -> None:
        reader, session, queue = self._reader, self.session, self._queue
        assert reader is not None and queue is not None
        label = self.server.label
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    why = f"{session.closing_reason}; " if session.closing_reason else ""
                    raise AmiConnectionLost(f"{label}: {why}the server closed the connection")
                items = session.receive(data)
                if session.banner is not None:
                    self._banner.set()
                for item in items:
                    if isinstance(item, Reply):
                        future = self._waiters.get(item.action_id)
                        if future is not None and not future.done():
                            future.set_result(item)
                        continue
                    if item.name == "FullyBooted":
                        self._booted.set()
                    await queue.put(item)
        except AmiError as exc:
            wrapped = exc if isinstance(exc, AmiConnectionLost) else None
            self._lost(wrapped or AmiConnectionLost(f"{label}: {exc}"))
        except OSError as exc:
            self._lost(AmiConnectionLost(f"{label}: connection lost: {exc}"))

    async def _watchdog(self) -> None:
        interval = self.options.ping_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await self.action("Ping", timeout=interval)
            except AmiTimeout:
                self._lost(
                    AmiTimeout(
                        f"{self.server.label}: no Pong within {interval:g} s: the server is "
                        "frozen (its socket is open but it does not answer)"
                    )
                )
                return
            except AmiError:
                return  # the reader saw the end first

    def _lost(self, exc: AmiError) -> AmiError:
        """Records why the connection ended (the first reason wins) and wakes everyone
        waiting; returns the recorded reason."""
        if self._error is None:
            self._error = exc
            if not self._closing:
                log.warning("%s", exc)
            for future in self._waiters.values():
                if not future.done():
                    future.set_exception(exc)
            self._banner.set()
            self._booted.set()
            if self._queue is not None:
                # When full, the iterator sees the error once it has drained the queue.
                with contextlib.suppress(asyncio.QueueFull):
                    self._queue.put_nowait(_END)
            if self._writer is not None:
                self._writer.transport.abort()  # a frozen peer would never ack a close
        return self._error

    async def _shutdown(self) -> None:
        self._closing = True
        self._lost(AmiConnectionLost(f"{self.server.label}: closed"))
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except (OSError, TimeoutError):
                pass
