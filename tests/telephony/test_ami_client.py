"""The asyncio client against the loopback server: every case of live-protocol-edges.txt
(failed login, Events: off, unknown action, missing parameter, Command output, EOF,
reconnect and FullyBooted, Logoff), a frozen server, a cut connection, TLS."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from amiserver import CuttingProxy, FakeAsterisk
from conftest import Runner
from hallkpi.telephony import (
    AmiActionError,
    AmiAuthError,
    AmiClient,
    AmiConnectionLost,
    AmiError,
    AmiParser,
    AmiServer,
    AmiTimeout,
    ClientOptions,
    Message,
)

pytestmark = pytest.mark.timeout(60)
QUICK = ClientOptions(ping_interval_s=30, timeout_s=5, boot_timeout_s=5)


def server_at(port: int, secret: str = "kpisecret", **kw: object) -> AmiServer:
    return AmiServer("127.0.0.1", port, "kpi", secret, **kw)  # type: ignore[arg-type]


def test_login_ping_list_action_command_and_logoff(run: Runner[None]) -> None:
    member = [("Event", "QueueMember"), ("Queue", "support"), ("Name", "Agent One")]

    async def body() -> None:
        async with FakeAsterisk(queue_status=[member]) as pbx:
            async with AmiClient(server_at(pbx.port), QUICK) as ami:
                assert ami.banner == "Asterisk Call Manager/11.0.0"
                assert await ami.wait_booted() and ami.session.authenticated
                assert (await ami.ping()).response.get("Ping") == "Pong"
                status = await ami.action("QueueStatus")
                assert [m.name for m in status.items] == ["QueueMember"]
                # the list items also come through the stream, in order
                assert [(await anext(ami)).name for _ in range(3)] == [
                    "FullyBooted",
                    "QueueMember",
                    "QueueStatusComplete",
                ]
                assert await ami.command("queue show support") == [
                    "queue show support: 0 calls",
                    "   No Callers",
                ]
            assert [m.name for m in pbx.actions][-1] == "Logoff"
            assert ami.error is not None
            with pytest.raises(StopAsyncIteration):
                await anext(ami)  # closed by us: the iteration ends

    run(body)


def test_wrong_secret_is_a_clear_error_not_a_retry(run: Runner[None]) -> None:
    async def body() -> None:
        async with FakeAsterisk() as pbx:
            with pytest.raises(AmiAuthError, match="refused the login") as info:
                await AmiClient(server_at(pbx.port, "wrong"), QUICK).connect()
            assert isinstance(info.value, PermissionError)
            assert (pbx.failed_logins, pbx.logins) == (1, 0)
            assert "wrong" not in str(info.value)

    run(body)


def test_events_off_unknown_action_and_missing_parameter(run: Runner[None]) -> None:
    async def body() -> None:
        options = ClientOptions(events="off", ping_interval_s=30, timeout_s=5)
        async with FakeAsterisk() as pbx, AmiClient(server_at(pbx.port), options) as ami:
            assert [m.get("Events") for m in pbx.actions] == ["off"]
            assert not await ami.wait_booted(timeout=0)  # no events: no FullyBooted
            assert (await ami.ping()).ok
            reply = await ami.action("Events", {"EventMask": "agent,user"})
            assert reply.response.get("Events") == "On"
            with pytest.raises(AmiActionError, match="Invalid/unknown command") as info:
                await ami.action("NoSuchAction")
            assert isinstance(info.value, RuntimeError) and "NoSuchAction" in info.value.message
            with pytest.raises(AmiActionError, match="Need 'Interface' and 'Paused'"):
                await ami.action("QueuePause")
            refused = await ami.action("QueuePause", check=False)
            assert not refused.ok
            await pbx.push([("Event", "UserEvent"), ("UserEvent", "PostCallSurvey")])
            assert (await anext(ami)).get("UserEvent") == "PostCallSurvey"

    run(body)


def test_end_of_stream_and_a_refused_connection(run: Runner[None]) -> None:
    async def body() -> None:
        pbx = FakeAsterisk()
        port = await pbx.start()
        async with AmiClient(server_at(port), QUICK) as ami:
            await ami.wait_booted()
            await pbx.restart()  # Shutdown, then EOF
            assert (await anext(ami)).name == "FullyBooted"
            assert (await anext(ami)).name == "Shutdown"
            with pytest.raises(AmiConnectionLost, match="closed the connection"):
                await anext(ami)
            assert isinstance(ami.error, ConnectionError)
            with pytest.raises(AmiConnectionLost):
                await ami.ping()
        # reconnect after the restart: banner, login, FullyBooted again
        async with AmiClient(server_at(port), QUICK) as again:
            assert await again.wait_booted() and pbx.logins == 2
        await pbx.stop()
        with pytest.raises(AmiConnectionLost, match="cannot connect"):
            await AmiClient(server_at(port), QUICK).connect()

    run(body)


def test_a_frozen_server_is_detected_within_two_ping_intervals(run: Runner[None]) -> None:
    interval = 0.2

    async def body() -> None:
        options = ClientOptions(ping_interval_s=interval, timeout_s=5)
        async with FakeAsterisk() as pbx, AmiClient(server_at(pbx.port), options) as ami:
            assert (await anext(ami)).name == "FullyBooted"
            loop = asyncio.get_running_loop()
            pbx.freeze()
            frozen_at = loop.time()
            with pytest.raises(AmiTimeout, match=r"no Pong within 0\.2 s: the server is frozen"):
                await anext(ami)
            elapsed = loop.time() - frozen_at
            assert elapsed <= 2 * interval + 0.5, elapsed  # slack for a loaded machine

    run(body)


def test_a_slow_action_times_out_without_dropping_the_connection(run: Runner[None]) -> None:
    async def body() -> None:
        async with FakeAsterisk() as pbx, AmiClient(server_at(pbx.port), QUICK) as ami:
            pbx.freeze()
            with pytest.raises(AmiTimeout, match="no reply to Ping within"):
                await ami.action("Ping", timeout=0.05)
            assert ami.error is None and ami.session.pending == 0
            pbx.frozen = False
            assert (await ami.ping()).ok

    run(body)


def test_a_connection_cut_mid_message(run: Runner[None], small_capture: bytes) -> None:
    events = [m for m in AmiParser().feed(small_capture) if m.kind != "Response"]

    async def body() -> None:
        got: list[Message] = []

        async def drain(ami: AmiClient) -> None:
            async for msg in ami:
                got.append(msg)

        pbx = FakeAsterisk(stream=[small_capture, small_capture], seed=3)
        async with pbx, CuttingProxy(pbx.port, cut_after=2000) as proxy:
            async with AmiClient(server_at(proxy.port), QUICK) as ami:
                with pytest.raises(AmiConnectionLost, match="closed the connection"):
                    await drain(ami)
            assert proxy.cuts == 1 and got[0].name == "FullyBooted"
            assert got[1:] == events[: len(got) - 1]  # whole messages only, none torn
            assert 3 <= len(got) - 1 < len(events)
            async with AmiClient(server_at(proxy.port), QUICK) as again:
                replayed = [await anext(again) for _ in range(len(events) + 1)]
                assert replayed[1:] == events

    run(body)


def test_not_an_ami_server(run: Runner[None]) -> None:
    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()

    async def body() -> None:
        server = await asyncio.start_server(http, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(AmiConnectionLost, match="expected the AMI banner") as info:
                await AmiClient(server_at(port), QUICK).connect()
            assert isinstance(info.value, AmiError)
        finally:
            server.close()
            await server.wait_closed()

    run(body)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=pbx",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls(run: Runner[None], certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def body() -> None:
        async with FakeAsterisk(tls=context) as pbx:
            secure = server_at(pbx.port, tls=True, cafile=str(cert))
            async with AmiClient(secure, QUICK) as ami:
                assert (await ami.ping()).ok and await ami.wait_booted()
            untrusted = server_at(pbx.port, tls=True)  # system CAs do not know it
            with pytest.raises(AmiConnectionLost, match="cannot connect"):
                await AmiClient(untrusted, QUICK).connect()

    run(body)
