"""AMI parse + translate against a plain-Python ``Key: Value`` split parser.

Workload: the real Asterisk 22.10.1 session (``../shared/data/ami/live-capture.txt``,
314 messages of which about 15 % are queue events, the rest channel, CDR and CEL
traffic), or the self-made capture of the tests when the shared data is absent,
repeated 200 times with fresh Uniqueids and shifted Timestamps so that the translator
sees new calls. The bytes come in 64 KiB chunks, as a socket delivers them.

* ``parse + translate``: ``AmiParser.feed`` then ``CallTranslator.feed`` on every
  message (a fresh parser and translator each round). Goal: >= 100,000 AMI events/s.
* ``parse only``: ``AmiParser.feed`` (messages are split lazily: nobody reads them).
* Baseline (same run, before each round): split the stream on blank lines, decode, and
  split every line on ``": "`` into a dict, the least a pure-Python parser does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hallkpi.telephony import AmiParser, CallTranslator, QueueMap
from harness import Goal, fmt_s, fmt_speedup, race, report
from pytest_benchmark.fixture import BenchmarkFixture

ROOT = Path(__file__).resolve().parents[1]
LIVE = ROOT.parent / "shared" / "data" / "ami" / "live-capture.txt"
SMALL = ROOT / "tests" / "telephony" / "data" / "small-capture.txt"
COPIES = 200
CHUNK = 64 * 1024
QUEUES = QueueMap({"support": "hall-a", "12366-yuhua": "yuhua", "12366-xinhua": "xinhua"})
_STAMP = re.compile(rb"Timestamp: (\d+)\.")
_UNIQUE = re.compile(rb"(kpitest|pbx)-(\d+)\.")


def _workload() -> tuple[str, bytes, int]:
    source = LIVE if LIVE.exists() else SMALL
    capture = source.read_bytes()
    body = capture[capture.index(b"\n") + 1 :]  # one banner for the whole stream
    copies = []
    for k in range(COPIES):

        def later(m: re.Match[bytes], shift: int = 60 * k) -> bytes:
            return b"Timestamp: %d." % (int(m[1]) + shift)

        def renamed(m: re.Match[bytes], k: int = k) -> bytes:
            return b"%s%d-%s." % (m[1], k, m[2])

        copies.append(_UNIQUE.sub(renamed, _STAMP.sub(later, body)))
    stream = capture[: capture.index(b"\n") + 1] + b"".join(copies)
    return source.name, stream, stream.count(b"\r\n\r\n")


@pytest.fixture(scope="module")
def ami_stream() -> tuple[str, list[bytes], bytes, int]:
    name, stream, messages = _workload()
    chunks = [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]
    return name, chunks, stream, messages


def split_parser(stream: bytes) -> list[dict[str, str]]:
    """The baseline: a plain-Python ``Key: Value`` split parser."""
    out = []
    for block in stream.split(b"\r\n\r\n"):
        message = {}
        for line in block.decode().split("\r\n"):
            key, _, value = line.partition(": ")
            message[key] = value
        out.append(message)
    return out


def parse_translate(chunks: list[bytes]) -> tuple[int, int]:
    parser = AmiParser()
    translator = CallTranslator(QUEUES)
    messages = events = 0
    feed = translator.feed
    for chunk in chunks:
        batch = parser.feed(chunk)
        messages += len(batch)
        for msg in batch:
            events += len(feed(msg))
    events += len(translator.flush())
    return messages, events


def parse_only(chunks: list[bytes]) -> tuple[int, int]:
    parser = AmiParser()
    return sum(len(parser.feed(chunk)) for chunk in chunks), 0


@pytest.mark.benchmark(group="ami")
@pytest.mark.parametrize("subject", ["parse + translate", "parse only"])
def test_ami_parse(
    benchmark: BenchmarkFixture, ami_stream: tuple[str, list[bytes], bytes, int], subject: str
) -> None:
    name, chunks, stream, messages = ami_stream
    run = parse_translate if subject == "parse + translate" else parse_only
    timing = race(
        benchmark,
        lambda: run(chunks),
        baselines={"split": lambda: split_parser(stream)},
        rounds=5,
    )
    parsed, events = timing.result
    assert parsed == messages
    if subject == "parse + translate":
        assert events > COPIES * 10  # every copy's calls were translated
    per_event = timing.subject_min / messages
    rate = messages / timing.subject_min
    cpu_rate = messages / timing.subject_cpu_min
    base = timing.baseline_min["split"] / messages
    benchmark.extra_info.update(
        {"messages": messages, "events_per_s": rate, "baseline_us": base * 1e6, "source": name}
    )
    report(
        benchmark,
        bench=f"AMI {subject}, {name} x {COPIES}",
        measured=f"{rate / 1e3:.0f}k events/s, {fmt_s(per_event)}/event "
        f"(cpu {cpu_rate / 1e3:.0f}k/s)",
        baseline=f"split parser {fmt_s(base)}/event",
        ratio=fmt_speedup(timing.speedup("split")),
        goal=Goal("min", 100_000, "events/s"),
        value=rate,
    )
