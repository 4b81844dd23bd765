"""``hallkpi ami translate`` and ``hallkpi ami tap``, and the ``[telephony]`` config."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from amiserver import FakeAsterisk
from conftest import Runner
from hallkpi.core.cli import main
from hallkpi.telephony import (
    AmiServer,
    QueueMap,
    TelephonyConfig,
    TelephonyConfigError,
    read_secret,
    translate_stream,
)

pytestmark = pytest.mark.timeout(60)
MAP = "12366-yuhua=yuhua,12366-xinhua=xinhua"


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_translate_to_stdout_and_summary(
    small_capture: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "c.txt"
    capture.write_bytes(small_capture)
    assert main(["ami", "translate", str(capture), "--hall-map", MAP]) == 0
    out, err = capsys.readouterr()
    events = lines(out)
    assert len(events) == 27 and {e["hall"] for e in events} == {"yuhua", "xinhua"}
    assert "62 messages -> 27 events" in err and "skipped unmapped queues: other (2)" in err
    assert main(["ami", "translate", str(capture), "--unmapped", "queue"]) == 0
    out, err = capsys.readouterr()
    assert {e["hall"] for e in lines(out)} == {"12366-yuhua", "12366-xinhua", "other"}


def test_translate_with_a_config_file_and_options(
    small_capture: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "c.txt"
    capture.write_bytes(small_capture)
    config = tmp_path / "hallkpi.toml"
    config.write_text(
        """
[engine]
timezone = "UTC"

[telephony]
agent_key = "name"
hold_from = "holdtime"
default_hall = "city"

[telephony.queues]
"12366-yuhua" = "yuhua"

[[telephony.servers]]
url = "ami://kpi@10.0.0.5:5038"
secret_file = "/nonexistent/secret"  # not read by translate
""",
        encoding="utf-8",
    )
    out = tmp_path / "events.jsonl"
    args = ["ami", "translate", str(capture), "--config", str(config), "-o", str(out)]
    assert main([*args, "--hall-map", "other=other-hall"]) == 0
    events = lines(out.read_text())
    assert {e["hall"] for e in events} == {"yuhua", "city", "other-hall"}
    answered = [e for e in events if e["type"] == "call.answered"]
    assert (answered[0]["agent"], answered[0]["hold_s"]) == ("Alice", 3.0)
    assert main(["replay", str(out), "--json"]) == 0  # the output replays cleanly
    assert json.loads(capsys.readouterr().out)["diagnostics"]["rejected_events"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hall-map", "nohall"], "is not queue=hall"),
        (["--hall-map", "q=bad hall"], "must be 1..64 characters"),
        (["--unmapped", "default"], "needs default_hall"),
        (["--config", "/nonexistent.toml"], "cannot read configuration"),
    ],
)
def test_translate_errors_say_what_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    capture = tmp_path / "c.txt"
    capture.write_bytes(b"")
    assert main(["ami", "translate", str(capture), *args]) == 2
    assert message in capsys.readouterr().err
    assert main(["ami", "translate", str(tmp_path / "missing.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_config_section_and_secrets(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n", encoding="utf-8")
    secret.chmod(0o600)
    doc = {
        "telephony": {
            "ping_interval_s": 5,
            "queues": {"a": "hall-a"},
            "servers": [
                {"url": "amis://kpi@pbx.example:5039", "secret_file": str(secret), "name": "pbx1"}
            ],
        }
    }
    config = TelephonyConfig.from_mapping(doc)
    (server,) = config.servers
    assert (server.host, server.port, server.tls, server.secret, server.label) == (
        "pbx.example",
        5039,
        True,
        "s3cret",
        "pbx1",
    )
    assert "s3cret" not in repr(server) and config.client.ping_interval_s == 5
    bad = [
        ({"telephony": {"speed": 1}}, "unknown keys"),
        ({"telephony": {"agent_key": "x"}}, "agent_key"),
        ({"telephony": {"servers": [{"url": "http://x"}]}}, "must start with ami://"),
        ({"telephony": {"queues": {"a": 1}}}, "must map"),
    ]
    for doc_, message in bad:
        with pytest.raises(TelephonyConfigError, match=message):
            TelephonyConfig.from_mapping(doc_, secrets=False)
    with pytest.raises(TelephonyConfigError, match="no password in the AMI URL"):
        AmiServer.from_url("ami://kpi:pw@host")
    assert AmiServer.from_url("ami://kpi@[::1]").port == 5038
    assert read_secret(env={"HALLKPI_AMI_SECRET": "x"}) == "x"
    with pytest.raises(TelephonyConfigError, match="no AMI secret"):
        read_secret(env={})
    assert TelephonyConfig().queues.hall("any") is None


def test_tap_prints_live_events_and_never_the_secret(
    run: Runner[None], small_capture: bytes
) -> None:
    expected = [e for e in translate_stream([small_capture], _map()) if e["type"] != "agent.state"]

    async def body() -> None:
        async with FakeAsterisk(stream=small_capture, secret="t0p-s3cret") as pbx:
            env = {**os.environ, "HALLKPI_AMI_SECRET": "t0p-s3cret"}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hallkpi.core.cli", "ami", "tap",
                f"ami://kpi@127.0.0.1:{pbx.port}", "--hall-map", MAP,
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert proc.stdout is not None and proc.stderr is not None
            got: list[dict[str, object]] = []
            try:
                while len(got) < len(expected):
                    event = json.loads(await proc.stdout.readline())
                    if event["type"] != "agent.state":
                        got.append(event)
            finally:
                proc.send_signal(signal.SIGINT)
                rest, err = await proc.communicate()
            assert proc.returncode == 130
            assert got == expected
            assert b"t0p-s3cret" not in rest + err and b"connected" in err

    run(body)


def _map() -> QueueMap:
    return QueueMap(QueueMap.parse_pairs(MAP))
