"""Fixtures of the Grafana tests: settings (defaults and a full configuration), their
content, the shared schemas (tests needing them skip when the folder is absent), and
one chDB worker process for the SQL checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hallkpi.dashboards import Content, GrafanaSettings, build_content

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "data" / "hallkpi.toml"
SCHEMAS = Path(
    os.environ.get("HALLKPI_GRAFANA_SCHEMAS", HERE.parents[2] / "shared" / "data" / "grafana")
)
SECRETS = {
    "HALLKPI_DINGTALK_URL": "https://oapi.dingtalk.example/robot/send?access_token=t0k",
    "HALLKPI_WECOM_URL": "https://qyapi.weixin.example/cgi-bin/webhook/send?key=k3y",
    "HALLKPI_HOOK_TOKEN": "hook-secret",
    "HALLKPI_CLICKHOUSE_PASSWORD": "ch-secret",
}


@pytest.fixture(scope="session")
def default_content() -> Content:
    return build_content(GrafanaSettings.defaults())


@pytest.fixture(scope="session")
def configured() -> GrafanaSettings:
    return GrafanaSettings.load(CONFIG)


@pytest.fixture(scope="session")
def configured_content(configured: GrafanaSettings) -> Content:
    return build_content(configured)


@pytest.fixture(params=["defaults", "configured"])
def content(request: pytest.FixtureRequest) -> Content:
    name = "default_content" if request.param == "defaults" else "configured_content"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return SECRETS


@pytest.fixture(scope="session")
def schemas() -> Path:
    if not (SCHEMAS / "foundation-sdk-jsonschema").is_dir():
        pytest.skip(
            f"Grafana schemas not found in {SCHEMAS} (../shared/data/grafana of the repo, "
            "or set HALLKPI_GRAFANA_SCHEMAS): schema validation skipped"
        )
    return SCHEMAS


def all_queries(content: Content) -> list[dict[str, Any]]:
    """Every recorded query of the content: id, SQL, declared columns and shape, scope."""
    out = []
    for doc in content.dashboards:
        multi = any(v.get("multi") for v in doc.model["templating"]["list"])
        for i, (title, q) in enumerate(doc.queries):
            out.append(
                {
                    "id": f"{doc.uid}#{i} {title}",
                    "sql": q.sql,
                    "columns": list(q.columns),
                    "shape": q.shape,
                    "hall": "all" if multi else "one",
                }
            )
        for var in doc.model["templating"]["list"]:
            out.append(
                {
                    "id": f"{doc.uid} variable {var['name']}",
                    "sql": var["query"],
                    "columns": ["hall"],
                    "shape": "table",
                    "hall": "all",
                }
            )
    for uid, q in content.rule_queries.items():
        out.append(
            {
                "id": f"rule {uid}",
                "sql": q.sql,
                "columns": list(q.columns),
                "shape": q.shape,
                "hall": "all",
            }
        )
    return out


@pytest.fixture(scope="session")
def chdb_results(
    configured_content: Content, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Runs every query of the configured content in one chDB worker process."""
    queries = all_queries(configured_content)
    request = {
        "dir": str(tmp_path_factory.mktemp("grafana-chdb")),
        "queries": [{"id": q["id"], "sql": q["sql"], "hall": q["hall"]} for q in queries],
    }
    proc = subprocess.run(
        [sys.executable, str(HERE / "chdb_worker.py")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"chDB worker failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout)
    out["declared"] = {q["id"]: q for q in queries}
    return out
