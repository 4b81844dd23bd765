"""The TOML configuration, the `hallkpi replay` command and the packaging rules."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hallkpi.core import ConfigError, Engine, load_config
from hallkpi.core.cli import main
from hallkpi.core.sim.simulate import simulate_lines

ROOT = Path(__file__).resolve().parents[2]
T0 = 1764205200000


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_config_file_overrides_and_adds_rules(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path / "h.toml",
            """
[engine]
horizons_s = [60, 600]
pane_ms = 500
timezone = "UTC"

[halls.yuhua]
windows = 12

[alerts.rules.wait_timeout]
threshold = 1200

[alerts.rules.call_queue]
enabled = false

[alerts.rules.long_handle]
kpi = "handle_mean_s"
horizon = "1h"
op = ">"
threshold = 900
for_s = 300
guard = { kpi = "served", horizon = "1h", min = 5 }

[mqtt]
url = "mqtt://127.0.0.1"   # other packages' sections are ignored here
""",
        )
    )
    assert cfg.horizons_s == (60, 600) and cfg.pane_ms == 500 and cfg.timezone == "UTC"
    assert cfg.configured_windows == {"yuhua": 12}
    rules = {r.name: r for r in cfg.alert_rules or []}
    assert rules["wait_timeout"].threshold == 1200
    assert "call_queue" not in rules
    assert rules["long_handle"].guard == ("served", "1h", 5.0)
    e = Engine.from_config(tmp_path / "h.toml")
    assert list(e.snapshot()["halls"]) == ["yuhua"]
    assert list(e.snapshot()["halls"]["yuhua"]) == ["now", "1m", "10m", "today", "staff"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[engine]\npane_ms = 'x'", "wrong type"),
        ("[engine]\nspeed = 1", "unknown key engine.speed"),
        ("[halls.a]\nwindows = -1", "windows must be"),
        ("[alerts.rules.new]\nkpi = 'waiting'", "a new rule needs"),
        ("[alerts.rules.wait_timeout]\nthreshhold = 1", "unknown keys"),
        ("[alerts.rules.x]\nkpi='nope'\nhorizon='now'\nop='>'\nthreshold=1", "unknown KPI"),
        ("not toml [", "invalid TOML"),
    ],
)
def test_config_errors_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path / "bad.toml", text))


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "none.toml")


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("day") / "day.jsonl"
    path.write_bytes(simulate_lines(halls=2, tickets_per_hall=300, seed=3))
    return path


def test_replay_json_equals_engine_snapshot(day: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(day), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    e = Engine()
    e.push_jsonl(day.read_bytes())
    assert doc == json.loads(json.dumps(e.snapshot()))


def test_replay_gz_stdin_now_and_options(
    day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gz = tmp_path / "day.jsonl.gz"
    gz.write_bytes(gzip.compress(day.read_bytes()))
    assert main(["replay", str(gz), "--json", "--horizons", "60", "--timezone", "UTC"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(next(iter(doc["halls"].values()))) == ["now", "1m", "today", "staff"]
    now = doc["now"] + 3_600_000
    assert main(["replay", str(gz), "--json", "--now", str(now)]) == 0
    assert json.loads(capsys.readouterr().out)["now"] == now
    proc = subprocess.run(
        [sys.executable, "-m", "hallkpi.core.cli", "replay", "-"],
        input=day.read_bytes(),
        capture_output=True,
        check=True,
    )
    assert b"events applied" in proc.stdout and b"hall" in proc.stdout


def test_replay_reports_bad_lines_and_unreadable_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path / "bad.jsonl", '{"id": 1}\nnot json\n')
    assert main(["replay", str(bad)]) == 0
    err = capsys.readouterr().err
    assert "line 1: field 'id' must be a string" in err and "line 2: invalid JSON" in err
    assert main(["replay", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"not gzip at all")
    assert main(["replay", str(broken)]) == 2
    assert main(["replay", str(bad), "--config", str(tmp_path / "none.toml")]) == 2


def test_packaging_lists_every_python_folder() -> None:
    """Every mapped folder is in `packages` and has a guarded __init__ and py.typed."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package, folder in meta["package-dir"].items():
        assert package in meta["packages"]
        init = (ROOT / folder / "__init__.py").read_text().splitlines()[0]
        assert init.startswith("if __name__ != ") and package in init
        assert (ROOT / folder / "py.typed").exists()
    assert not (ROOT / "hallkpi").exists()
    for folder in ("core", "ingest", "telephony", "dashboards"):
        if (ROOT / folder / "__init__.py").exists():
            assert f"hallkpi.{folder}" in meta["packages"]


def test_bare_folder_import_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import core"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0 and "hallkpi.core" in proc.stderr
