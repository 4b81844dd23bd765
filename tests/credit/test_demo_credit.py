"""``hallkpi demo`` shows taxpayer credit: the sample is imported, evaluated and
published into the demo's chDB (a subprocess: chDB opens one directory per process)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path


def test_demo_prints_credit_grades(tmp_path: Path) -> None:
    args = ["demo", "--halls", "1", "--tickets-per-hall", "60", "--speed", "0", "--no-wall"]
    proc = subprocess.run(
        [sys.executable, "-m", "hallkpi.core.cli", *args, "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "taxpayer credit 2025: grades by county" in out
    assert "planted cases graded as by hand: 8/8" in out
    m = re.search(r"credit: ([\d,]+) taxpayers", out)
    assert m and int(m.group(1).replace(",", "")) == 2000
    pub = tmp_path / "credit" / "publication"
    black = json.loads((pub / "blacklist_2026-05-01.json").read_text("utf-8"))
    assert black["count"] == 1
    a_list = json.loads((pub / "a_grade_2025.json").read_text("utf-8"))
    assert a_list["count"] > 0 and {e["grade"] for e in a_list["entries"]} == {"A"}
