"""CallEventSource: live events from loopback servers, reconnects with backoff, resync
after a restart or a dropped connection, gap reports, several servers, auth errors."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from amiserver import CuttingProxy, FakeAsterisk, frame
from conftest import Runner
from hallkpi.core import Engine
from hallkpi.telephony import (
    AmiAuthError,
    AmiServer,
    Backoff,
    CallEventSource,
    ClientOptions,
    Event,
    GapReport,
    QueueMap,
    ServerStatus,
    TranslateOptions,
    translate_stream,
)

pytestmark = pytest.mark.timeout(60)
HALLS = QueueMap({"12366-yuhua": "yuhua", "12366-xinhua": "xinhua", "support": "hall-a"})
FAST = ClientOptions(ping_interval_s=5, timeout_s=5, boot_timeout_s=5, backoff=Backoff(0.01, 0.05))


class Watch:
    """Records ``on_state`` calls; ``until(pred)`` waits for a condition on them."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.gaps: list[GapReport] = []
        self._changed = asyncio.Event()

    def __call__(self, status: ServerStatus, what: str) -> None:
        self.seen.append((status.label, what))
        self._changed.set()

    def gap(self, report: GapReport) -> None:
        self.gaps.append(report)

    def count(self, what: str) -> int:
        return sum(1 for _, w in self.seen if w == what)

    async def until(self, pred: Callable[[], bool]) -> None:
        while not pred():
            self._changed.clear()
            await self._changed.wait()


def server_at(port: int, **kw: Any) -> AmiServer:
    return AmiServer("127.0.0.1", port, "kpi", "kpisecret", **kw)


def source(*servers: AmiServer, watch: Watch | None = None, **kw: Any) -> CallEventSource:
    return CallEventSource(
        servers,
        queues=HALLS,
        client=FAST,
        on_state=watch,
        on_gap=watch.gap if watch else None,
        rng=random.Random(1),
        **kw,
    )


async def take(calls: CallEventSource, n: int, *, agents: bool = False) -> list[Event]:
    """The next ``n`` events (call events only unless ``agents``)."""
    out: list[Event] = []
    async for event in calls:
        if agents or event["type"] != "agent.state":
            out.append(event)
            if len(out) == n:
                break
    return out


def call_events(capture: bytes) -> list[Event]:
    return [e for e in translate_stream([capture], HALLS) if e["type"] != "agent.state"]


@pytest.mark.parametrize("capture", ["small_capture", "live_capture"])
def test_replayed_capture_gives_the_offline_call_events(
    run: Runner[None], capture: str, request: pytest.FixtureRequest
) -> None:
    data: bytes = request.getfixturevalue(capture)
    expected = call_events(data)

    async def body() -> None:
        pbx = FakeAsterisk(stream=data, seed=len(data))
        async with pbx, source(server_at(pbx.port)) as calls:
            got = await take(calls, len(expected))
        assert got == expected  # same ids, times and durations as offline

    run(body)
    if capture == "live_capture":
        engine = Engine()
        assert engine.push_jsonl("\n".join(json.dumps(e) for e in expected).encode()).rejected == 0
        row = engine.snapshot()["halls"]["hall-a"]["1h"]
        assert (row["calls_offered"], row["calls_answered"], row["calls_abandoned"]) == (5, 4, 1)


def params(completed: int, abandoned: int) -> list[tuple[str, str]]:
    return [
        ("Event", "QueueParams"),
        ("Queue", "12366-yuhua"),
        ("Completed", str(completed)),
        ("Abandoned", str(abandoned)),
    ]


def member(name: str, status: str = "1") -> list[tuple[str, str]]:
    return [
        ("Event", "QueueMember"),
        ("Queue", "12366-yuhua"),
        ("Location", name),
        ("Status", status),
        ("Paused", "0"),
    ]


def entry(uid: str, wait: int) -> list[tuple[str, str]]:
    return [
        ("Event", "QueueEntry"),
        ("Queue", "12366-yuhua"),
        ("Uniqueid", uid),
        ("Wait", str(wait)),
    ]


def ev(name: str, t: float, **fields: str) -> bytes:
    return frame([("Event", name), ("Timestamp", f"{1795740000 + t:.6f}"), *fields.items()])


def test_resync_after_a_dropped_connection_and_after_a_restart(run: Runner[None]) -> None:
    y = {"Queue": "12366-yuhua"}
    first = ev("QueueCallerJoin", 1, Uniqueid="w1", **y) + ev(
        "QueueCallerJoin", 2, Uniqueid="w2", **y
    )
    second = ev(
        "AgentComplete", 30, Uniqueid="w2", Interface="PJSIP/2", HoldTime="20", TalkTime="5", **y
    )

    async def body() -> None:
        watch = Watch()
        baseline = [params(10, 2), member("PJSIP/1"), member("PJSIP/2")]
        pbx = FakeAsterisk(
            stream=[first, second], queue_status=baseline, replay_after="QueueStatus"
        )
        async with pbx, source(server_at(pbx.port), watch=watch) as calls:
            assert [e["call"] for e in await take(calls, 2)] == ["w1", "w2"]
            await watch.until(lambda: watch.count("resynced") == 1)
            # the connection drops; meanwhile w1 left, w3 came, 2 answers, 1 abandon
            pbx.queue_status = [
                params(12, 3),
                member("PJSIP/2"),
                entry("w2", 25),
                entry("w3", 9),
            ]
            await pbx.drop_all()
            got = await take(calls, 4, agents=True)
            await watch.until(lambda: len(watch.gaps) == 1)
            assert [(e["type"], e.get("call", e.get("agent"))) for e in got] == [
                ("call.queued", "w3"),
                ("call.timeout", "w1"),
                ("agent.state", "PJSIP/1"),
                ("call.answered", "w2"),  # its AgentConnect fell in the gap
            ]
            assert got[1]["inferred"] == "resync" and got[2]["state"] == "offline"
            (gap,) = watch.gaps
            assert (gap.hidden_answers, gap.hidden_abandons, gap.restarted) == (2, 1, False)
            assert gap.source == f"127.0.0.1:{pbx.port}" and gap.hidden
            (done,) = await take(calls, 1)
            assert (done["type"], done["talk_s"]) == ("call.completed", 5.0)
            # Asterisk restarts: counters start again from zero
            await pbx.restart(queue_status=[params(1, 0), member("PJSIP/2")])
            await watch.until(lambda: len(watch.gaps) == 2)
            assert watch.gaps[1].restarted and watch.gaps[1].hidden_answers == 1
            status = calls.status[f"127.0.0.1:{pbx.port}"]
            assert (status.connects, status.resyncs, status.connected) == (3, 3, True)
            assert pbx.logins == 3 and watch.count("lost") == 2

    run(body)


def test_a_frozen_server_is_left_and_reconnected(run: Runner[None]) -> None:
    async def body() -> None:
        watch = Watch()
        frozen = ClientOptions(ping_interval_s=0.1, timeout_s=5, backoff=Backoff(0.01, 0.05))
        async with FakeAsterisk() as pbx:
            calls = CallEventSource(
                [server_at(pbx.port)], queues=HALLS, client=frozen, on_state=watch
            )
            async with calls:
                await watch.until(lambda: watch.count("resynced") == 1)
                pbx.freeze()
                await watch.until(lambda: watch.count("lost") == 1)
                assert "frozen" in (calls.status[f"127.0.0.1:{pbx.port}"].last_error or "")
                pbx.frozen = False
                await watch.until(lambda: watch.count("resynced") == 2)

    run(body)


def test_a_cut_connection_resumes_with_the_next_calls(
    run: Runner[None], small_capture: bytes
) -> None:
    y = {"Queue": "12366-yuhua"}
    later = (
        ev("QueueCallerJoin", 200, Uniqueid="n1", **y)
        + ev("QueueCallerLeave", 203, Uniqueid="n1", **y)
        + ev("AgentConnect", 203, Uniqueid="n1", Interface="PJSIP/1", HoldTime="3", **y)
        + ev("QueueCallerJoin", 210, Uniqueid="n2", **y)
        + ev("HangupRequest", 218, Uniqueid="n2")
        + ev("QueueCallerAbandon", 218, Uniqueid="n2", HoldTime="8", **y)
        + ev("QueueCallerLeave", 218, Uniqueid="n2", **y)
    )
    before = call_events(small_capture)
    after = call_events(later)

    async def body() -> None:
        watch = Watch()
        counters = [params(0, 0), [*params(0, 0)[:1], ("Queue", "12366-xinhua"), *params(0, 0)[2:]]]
        pbx = FakeAsterisk(
            stream=[small_capture, later], seed=9, queue_status=counters, replay_after="QueueStatus"
        )
        got: list[Event] = []
        async with pbx, CuttingProxy(pbx.port, cut_after=6800) as proxy:
            calls = source(server_at(proxy.port), watch=watch)
            async with calls:
                while len(got) < len(after) or got[-len(after) :] != after:
                    got += await take(calls, 1)
                    assert len(got) <= len(before) + 2 * len(after)
        assert proxy.cuts == 1 and watch.count("lost") == 1 and watch.count("connected") == 2
        cut_at = len(got) - len(after)
        # before the cut: whole messages, a prefix of the capture's events...
        head = [e for e in got[:cut_at] if not e.get("inferred")]
        assert 0 < len(head) < len(before) and head == before[: len(head)]
        # ...and after the resync nobody is left waiting for ever on the wall screens
        inferred = got[len(head) : cut_at]  # the line was cut while call 3 was waiting
        assert inferred and all(e["type"] == "call.timeout" for e in inferred)
        assert "pbx-1795740020.9" in {e["call"] for e in inferred}
        engine = Engine()
        assert engine.push_jsonl("\n".join(json.dumps(e) for e in got).encode()).rejected == 0
        assert all(h["now"]["calls_waiting"] == 0 for h in engine.snapshot()["halls"].values())

    run(body)


def test_several_servers_at_once(run: Runner[None], small_capture: bytes) -> None:
    expected = call_events(small_capture)

    async def body() -> None:
        async with (
            FakeAsterisk(stream=small_capture, seed=1) as one,
            FakeAsterisk(stream=small_capture, seed=2) as two,
        ):
            a = server_at(one.port, name="pbx-a", id_prefix="a:")
            b = server_at(two.port, name="pbx-b", id_prefix="b:")
            async with source(a, b) as calls:
                got = await take(calls, 2 * len(expected))
        for prefix in ("a:", "b:"):
            mine = [e for e in got if e["id"].startswith(prefix)]
            assert [e["id"] for e in mine] == [prefix + e["id"] for e in expected]
        with pytest.raises(ValueError, match="distinct names"):
            CallEventSource([a, a], queues=HALLS)

    run(body)


def test_a_refused_login_is_raised_once_not_retried(run: Runner[None]) -> None:
    async def body() -> None:
        async with FakeAsterisk(secret="other") as pbx:
            calls = source(server_at(pbx.port))
            async with calls:
                with pytest.raises(AmiAuthError, match="refused the login"):
                    await anext(calls)
                supervisor = calls._tasks[0]  # noqa: SLF001 (the supervisor task ended)
                await asyncio.wait([supervisor])  # it ended: no retry loop
                assert pbx.failed_logins == 1
                assert "refused" in (calls.status[f"127.0.0.1:{pbx.port}"].last_error or "")

    run(body)


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    backoff = Backoff(initial_s=0.5, max_s=30, factor=2, jitter=0.5)
    assert [backoff.delay(n, 0.0) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(3, 0.999) == pytest.approx(2.002)  # at most half taken off
    assert backoff.delay(10_000, 0.5) == 22.5
    opts = TranslateOptions(lookahead_ms=500)
    assert CallEventSource([server_at(1)], queues=HALLS, translate=opts)._tick_s == 0.25  # noqa: SLF001 (the tick derived from the options)
