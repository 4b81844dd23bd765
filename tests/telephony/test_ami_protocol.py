"""The sans-IO framing: bytes in, messages out, at any split point; bounded memory."""

from __future__ import annotations

import random

import pytest
from hallkpi.telephony import AmiError, AmiParser, AmiProtocolError, Message, encode_action


def feed_split(data: bytes, cuts: list[int], **kw: object) -> tuple[AmiParser, list[Message]]:
    parser = AmiParser(**kw)  # type: ignore[arg-type]
    out: list[Message] = []
    at = 0
    for cut in [*sorted(cuts), len(data)]:
        out += parser.feed(data[at:cut])
        at = cut
    return parser, out


def test_banner_and_messages(small_capture: bytes) -> None:
    parser = AmiParser()
    msgs = parser.feed(small_capture)
    assert parser.banner == "Asterisk Call Manager/11.0.0" and parser.version == "11.0.0"
    assert len(msgs) == 62 and parser.buffered == 0
    assert (msgs[0].kind, msgs[0].name) == ("Response", "Success")
    assert (msgs[1].kind, msgs[1].name) == ("Event", "FullyBooted")


def test_every_split_point_gives_the_same_messages(small_capture: bytes) -> None:
    whole = AmiParser().feed(small_capture)
    # every two-piece split in the banner, login and resync list; a stride after that
    for cut in [*range(3000), *range(3000, len(small_capture) + 1, 11)]:
        assert feed_split(small_capture, [cut])[1] == whole, cut
    rng = random.Random(5)
    for _ in range(200):
        cuts = [rng.randrange(len(small_capture)) for _ in range(rng.randint(1, 60))]
        parser, msgs = feed_split(small_capture, cuts)
        assert msgs == whole and parser.buffered == 0


def test_one_byte_at_a_time_and_bare_lf(small_capture: bytes) -> None:
    whole = AmiParser().feed(small_capture)
    assert feed_split(small_capture, list(range(len(small_capture))))[1] == whole
    lf = small_capture.replace(b"\r\n", b"\n")
    assert feed_split(lf, list(range(0, len(lf), 7)))[1] == whole
    # a CR at the end of a chunk, its LF in the next one (LF-mode stream with CRLF lines)
    mixed = b"Event: A\nK: v\r\n\r\nEvent: B\n\n"
    assert [m.name for m in feed_split(mixed, [14, 15, 16], banner="none")[1]] == ["A", "B"]


def test_repeated_keys_and_case() -> None:
    msg = AmiParser(banner="none").feed(
        b"Event: UserEvent\r\nLinkedid: a\r\nServicelevelPerf: 1.0\r\nLinkedid: b\r\n"
        b"Empty: \r\nLoose:x\r\nno colon here\r\n\r\n"
    )[0]
    assert msg.get("linkedid") == "a" and msg.get_all("LINKEDID") == ["a", "b"]
    assert msg.get("ServiceLevelPerf") == "1.0" and msg["servicelevelperf"] == "1.0"
    assert msg.get("Empty") == "" and msg.get("loose") == "x" and msg.get("Missing") is None
    assert msg.get_all("") == ["no colon here"] and "Empty" in msg and "Nope" not in msg
    with pytest.raises(KeyError):
        msg["Nope"]
    assert Message(msg.to_bytes().decode()[:-4]) == msg and len(msg) == 7
    kinds = AmiParser(banner="none").feed(b"Privilege: x\r\nRESPONSE: Error\r\n\r\n")
    assert (kinds[0].kind, kinds[0].name) == ("Response", "Error")
    utf8 = AmiParser(banner="none").feed("Event: X\r\nCallerIDName: 张三\r\n\r\n".encode())[0]
    assert utf8.get("calleridname") == "张三"


def test_not_ami_is_refused_early() -> None:
    with pytest.raises(AmiProtocolError, match="expected the AMI banner"):
        AmiParser().feed(b"HTTP/1.1 400 Bad Request\r\n")
    parser = AmiParser()
    with pytest.raises(AmiProtocolError):
        parser.feed(b"SSH-2.0-OpenSSH_9.2 and more bytes")  # before any newline
    with pytest.raises(AmiProtocolError):
        parser.feed(b"more")  # a failed parser stays failed
    assert isinstance(AmiProtocolError("x"), ValueError | AmiError)
    optional = AmiParser(banner="optional")
    assert optional.feed(b"Event: A\r\n\r\n")[0].name == "A" and optional.banner is None


def test_a_line_that_never_ends_is_an_error_with_bounded_memory() -> None:
    parser = AmiParser(max_line_bytes=1024, max_message_bytes=8192)
    parser.feed(b"Asterisk Call Manager/11.0.0\r\nEvent: X\r\nKey: ")
    fed = 0

    def endless() -> None:
        nonlocal fed
        for _ in range(10_000):  # 10 MB offered; refused after about 1 KiB
            parser.feed(b"A" * 1000)
            fed += 1
            assert parser.buffered <= 1024 + 1000

    with pytest.raises(AmiProtocolError, match="longer than 1024 bytes"):
        endless()
    assert fed == 1 and parser.buffered == 0


def test_a_message_that_never_ends_is_an_error() -> None:
    parser = AmiParser(banner="none", max_line_bytes=100, max_message_bytes=1000)
    lines = b"".join(f"Key{i}: value\r\n".encode() for i in range(1000))
    with pytest.raises(AmiProtocolError, match="larger than 1000 bytes"):
        parser.feed(lines)
    with pytest.raises(ValueError, match="max_line_bytes"):
        AmiParser(max_line_bytes=10, max_message_bytes=5)


def test_finish_returns_a_last_message_without_blank_line() -> None:
    parser = AmiParser(banner="optional")
    assert parser.feed(b"Asterisk Call Manager/11.0.0\r\nEvent: A\r\n\r\nEvent: B\r\nK: v") != []
    last = parser.finish()
    assert [m.name for m in last] == ["B"] and last[0]["K"] == "v"
    assert AmiParser(banner="optional").finish() == []
    only_banner = AmiParser(banner="optional")
    only_banner.feed(b"Asterisk Call Manager/11.0.0")
    assert only_banner.finish() == [] and only_banner.banner is not None


def test_encode_action_and_injection() -> None:
    data = encode_action("Originate", "a1", [("Variable", "A=1"), ("Variable", "B=2")])
    assert data == (b"Action: Originate\r\nActionID: a1\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n")
    assert encode_action("Ping", "p", {}) == b"Action: Ping\r\nActionID: p\r\n\r\n"
    for bad in ({"Secret": "x\r\nAction: Originate"}, {"Bad:Key": "v"}, {"": "v"}):
        with pytest.raises(ValueError, match="invalid AMI header"):
            encode_action("Login", "l", bad)
    parsed = AmiParser(banner="none").feed(data)[0]
    assert (parsed.kind, parsed.name, parsed.get_all("variable")) == (
        "Action",
        "Originate",
        ["A=1", "B=2"],
    )
