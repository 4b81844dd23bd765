"""Golden files of the generated provisioning tree (defaults, and the full test
configuration). Regenerate after an intended change with
``HALLKPI_REGEN_GOLDEN=1 pytest tests/dashboards/test_golden.py`` and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hallkpi.dashboards import Content, export_tree

GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("HALLKPI_REGEN_GOLDEN") == "1"


@pytest.mark.parametrize("name", ["defaults", "configured"])
def test_export_matches_golden(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    content: Content = request.getfixturevalue(f"{name}_content".replace("defaults", "default"))
    written = export_tree(content, tmp_path)
    golden = GOLDEN / name
    got = {p.relative_to(tmp_path).as_posix(): p.read_text(encoding="utf-8") for p in written}
    if REGEN:
        for rel, text in got.items():
            (golden / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden / rel).write_text(text, encoding="utf-8")
    want = {
        p.relative_to(golden).as_posix(): p.read_text(encoding="utf-8")
        for p in golden.rglob("*")
        if p.is_file()
    }
    assert sorted(got) == sorted(want), "files differ; HALLKPI_REGEN_GOLDEN=1 to regenerate"
    for rel, text in got.items():
        assert text == want[rel], f"{rel} differs from golden/{name}; regenerate and review"
