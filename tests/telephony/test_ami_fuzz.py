"""Fuzzing the sans-IO layers (hypothesis): no crash, bounded memory, split-invariance.

The protocol fuzz runs over 100,000 inputs: each hypothesis example (random bytes and
a seed) is expanded into many variants (mutations of real AMI bytes, random splits,
the three banner modes), each fed to a fresh parser. The only exception allowed is
AmiProtocolError; the buffer never exceeds its bound; a stream that parses whole and
in pieces gives the same messages. Seeds are printed by hypothesis on failure.
"""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path
from typing import Literal

import pytest
from hallkpi.core import Engine
from hallkpi.telephony import (
    AmiParser,
    AmiProtocolError,
    CallTranslator,
    Message,
    QueueMap,
    TranslateOptions,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SMALL = (Path(__file__).parent / "data" / "small-capture.txt").read_bytes()
TOKENS = [b"\r", b"\n", b"\r\n", b"\r\n\r\n", b": ", b":", b"Event: ", b"Response: ",
          b"ActionID: ", b"EventList: Complete", b"Asterisk Call Manager/", b"\x00",
          b"\xff\xfe", "张".encode(), b" ", b""]  # fmt: skip
VARIANTS = 50
MAX_LINE, MAX_MESSAGE = 300, 3000
Mode = Literal["required", "optional", "none"]


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(0, 6)):
        at = rng.randint(0, len(out))
        choice = rng.random()
        if choice < 0.4:
            out[at:at] = rng.choice(TOKENS)
        elif choice < 0.7 and out:
            del out[at : at + rng.randint(1, 8)]
        elif out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
    return bytes(out)


def parse(data: bytes, cuts: list[int], mode: Mode) -> list[Message] | None:
    """Messages of ``data`` fed in pieces (None after a protocol error); checks bounds
    and that the Message API holds up on whatever came out."""
    parser = AmiParser(banner=mode, max_line_bytes=MAX_LINE, max_message_bytes=MAX_MESSAGE)
    out: list[Message] = []
    at = 0
    try:
        for cut in [*cuts, len(data)]:
            out += parser.feed(data[at:cut])
            assert parser.buffered <= MAX_MESSAGE + MAX_LINE
            at = cut
        out += parser.finish()
    except AmiProtocolError:
        assert parser.buffered == 0
        return None
    for msg in out:
        fields = msg.fields()
        assert msg.kind in ("Event", "Response", "Action", "")
        for key, _ in fields[:3]:
            assert msg.get(key) == msg.get_all(key)[0]  # the first value, any case
        assert msg.get("no-such-key") is None
        assert isinstance(msg.to_bytes(), bytes) and isinstance(msg.action_id, str | None)
    return out


def test_protocol_fuzz_over_100k_inputs() -> None:
    inputs = 0

    @settings(
        max_examples=2100,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(noise=st.binary(max_size=400), seed=st.integers(0, 2**32 - 1))
    def fuzz(noise: bytes, seed: int) -> None:
        nonlocal inputs
        rng = random.Random(seed)
        start = rng.randrange(len(SMALL))
        base = SMALL[start : start + rng.randint(0, 700)]
        for i in range(VARIANTS):
            data = noise if i % 10 == 0 else mutate(rng, base if i % 3 else noise + base)
            mode: Mode = rng.choice(["required", "optional", "none"])
            cuts = sorted(rng.randrange(len(data) + 1) for _ in range(rng.randint(0, 12)))
            split = parse(data, cuts, mode)
            if i % 5 == 0:  # the same bytes in one piece
                whole = parse(data, [], mode)
                if whole is not None and split is not None:
                    assert whole == split
            inputs += 1

    fuzz()
    assert inputs >= 100_000, inputs


def feed_all(parser: AmiParser, chunks: list[bytes]) -> None:
    for chunk in chunks:
        parser.feed(chunk)


def test_never_ending_line_and_message_have_bounded_memory() -> None:
    chunk = b"A" * 65536
    tracemalloc.start()
    try:
        line = AmiParser()
        line.feed(b"Asterisk Call Manager/11.0.0\r\nEvent: Flood\r\nKey: ")
        with pytest.raises(AmiProtocolError, match="longer than"):
            feed_all(line, [chunk] * 800)  # 50 MiB offered
        _, peak_line = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        message = AmiParser(banner="none")
        row = b"Key: " + b"v" * 1000 + b"\r\n"
        with pytest.raises(AmiProtocolError, match="larger than"):
            feed_all(message, [row * 64] * 800)  # 50 MB of lines, never a blank one
        _, peak_message = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_line < 1 << 20  # 64 KiB line limit + one chunk
    assert peak_message < 16 << 20  # 4 MiB message limit, its copies, one chunk


EVENT_NAMES = ["QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentConnect",
               "AgentComplete", "HangupRequest", "Hangup", "UserEvent", "QueueMemberStatus",
               "QueueMemberPause", "QueueMemberRemoved", "QueueMember", "QueueParams",
               "QueueEntry", "QueueStatusComplete", "Newchannel"]  # fmt: skip
VALUES = {
    "Uniqueid": ["u1", "u2", "pbx-1795740001.7", "x" * 90, ""],
    "CallerUniqueid": ["u1", "u9"],
    "Queue": ["12366-yuhua", "12366-xinhua", "other", "Q" * 80],
    "Timestamp": ["1795740000.5", "1795740001.000001", "17957400", "abc", "1795739000.0", "-1"],
    "HoldTime": ["0", "3", "-1", "nan", "1e400", "x", "99999999999"],
    "TalkTime": ["5", "inf", "", "7.5"],
    "Interface": ["PJSIP/1", "PJSIP/2", "L" * 100],
    "MemberName": ["Alice", ""],
    "Status": ["0", "1", "2", "5", "9", ""],
    "Paused": ["0", "1", "true"],
    "UserEvent": ["PostCallSurvey", "Other"],
    "Score": ["1", "5", "0", "6", "x", " 3"],
    "Wait": ["3", "-5", "z"],
    "Completed": ["0", "5", "x"],
    "Abandoned": ["0", "2"],
    "ActionID": ["r1", "r2", ""],
}


@settings(max_examples=400, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1), live=st.booleans())
def test_translator_fuzz_emits_only_valid_events(seed: int, live: bool) -> None:
    rng = random.Random(seed)
    halls = QueueMap({"12366-yuhua": "yuhua", "12366-xinhua": "xinhua"})
    tr = CallTranslator(halls, TranslateOptions(lookahead_messages=rng.randint(1, 5)))
    events = []
    now = 1_795_740_000_000
    for _ in range(rng.randint(1, 80)):
        fields = [("Event", rng.choice(EVENT_NAMES))]
        for key, choices in VALUES.items():
            if rng.random() < 0.5:
                fields.append((key, rng.choice(choices)))
        now += rng.randint(0, 2000)
        events += tr.feed(Message.from_fields(fields), received_ms=now if live else None)
        if live and rng.random() < 0.2:
            events += tr.poll(now + rng.randint(0, 1000))
    events += tr.flush()
    engine = Engine()
    result = engine.push_jsonl("\n".join(json.dumps(e) for e in events).encode())
    assert result.rejected == 0, (result.rejections, seed)
    ids = [e["id"] for e in events]
    assert all(len(i) <= 64 for i in ids)
