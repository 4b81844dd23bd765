"""Structural checks of the generated content (no schemas needed): fixed uids, the
data source and its secret, the boards and their hall variable, each engine rule's
Grafana twin with the same threshold, colour thresholds equal to the rules', contact
points and policies, the bilingual template, kiosk URLs, configuration errors, and the
``hallkpi grafana export`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIG, SECRETS
from hallkpi.core.cli import main
from hallkpi.core.config import config_from_mapping
from hallkpi.dashboards import Content, GrafanaConfigError, GrafanaSettings, kiosk_urls
from hallkpi.dashboards.alert_rules import duration, recovery, rule_uid

BOARDS = {"hallkpi-city", "hallkpi-hall", "hallkpi-calls", "hallkpi-staff", "hallkpi-trends"}
OPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


def _twins(content: Content) -> dict[str, dict[str, Any]]:
    return {r["labels"]["engine_rule"]: r for r in content.rule_group["rules"]}


def test_fixed_uids_and_folder(content: Content) -> None:
    assert content.datasource["uid"] == "hallkpi-clickhouse"
    assert content.datasource["type"] == "grafana-clickhouse-datasource"
    assert content.folder["uid"] == "hallkpi"
    assert {d.uid for d in content.dashboards} == BOARDS
    assert content.rule_group["folderUid"] == "hallkpi"
    uids = [r["uid"] for r in content.rule_group["rules"]]
    assert len(set(uids)) == len(uids) and all(len(u) <= 40 for u in uids)


def test_every_panel_queries_our_data_source(content: Content) -> None:
    for doc in content.dashboards:
        assert doc.model["timezone"] == "Asia/Shanghai"
        (var,) = doc.model["templating"]["list"]
        assert var["name"] == "hall" and var["datasource"]["uid"] == "hallkpi-clickhouse"
        assert var["allowCustomValue"] is False
        for panel in doc.model["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, (doc.uid, panel["title"])
            (target,) = panel["targets"]
            assert target["datasource"] == {
                "type": "grafana-clickhouse-datasource",
                "uid": "hallkpi-clickhouse",
            }
            assert target["editorType"] == "sql"
            assert (target["format"], target["queryType"]) in ((1, "table"), (0, "timeseries"))
            assert "hallkpi." in target["rawSql"]


def test_each_engine_rule_has_its_twin(content: Content) -> None:
    twins = _twins(content)
    assert set(twins) == {r.name for r in content.settings.rules} | {"data_freshness"}
    for rule in content.settings.rules:
        twin = twins[rule.name]
        assert twin["uid"] == rule_uid(rule.name)
        assert twin["condition"] == "C"
        assert [q["refId"] for q in twin["data"]] == ["A", "B", "C"]
        a, b, c = twin["data"]
        assert a["datasourceUid"] == "hallkpi-clickhouse" and a["relativeTimeRange"]["to"] == 0
        assert b["model"] == {**b["model"], "type": "reduce", "expression": "A"}
        (cond,) = c["model"]["conditions"]
        assert cond["evaluator"] == {"type": OPS[rule.op], "params": [rule.threshold]}
        kind, value = recovery(rule)
        assert cond["unloadEvaluator"] == {"type": kind, "params": [value]}
        assert twin["for"] == duration(rule.for_s)
        assert twin["noDataState"] == "OK" and twin["execErrState"] == "Error"
        assert twin["labels"]["severity"] == content.settings.severity_of(rule.name)
    fresh = twins["data_freshness"]
    assert fresh["noDataState"] == "Alerting"


def test_configured_rules_are_followed(configured_content: Content) -> None:
    twins = _twins(configured_content)
    assert "opinion_overdue" not in twins  # enabled = false
    assert twins["wait_timeout"]["data"][2]["model"]["conditions"][0]["evaluator"]["params"] == [
        1200.0
    ]
    handle = twins["long_handle"]
    assert handle["for"] == "5m" and handle["labels"]["severity"] == "info"
    assert "guard_value >= 5.0" in handle["data"][0]["model"]["rawSql"]


def _steps(panel: dict[str, Any]) -> list[dict[str, Any]]:
    return list(panel["fieldConfig"]["defaults"]["thresholds"]["steps"])


def test_colour_thresholds_are_the_rules_thresholds(content: Content) -> None:
    city = next(d for d in content.dashboards if d.uid == "hallkpi-city")
    by_title = {p["title"]: p for p in city.model["panels"]}
    for rule in content.settings.rules:
        if rule.horizon not in ("now", "15m"):
            continue
        tiles = [
            p
            for p in by_title.values()
            if p["type"] == "stat" and p["options"]["reduceOptions"]["fields"] == f"/^{rule.kpi}$/"
        ]
        for tile in tiles:
            steps = _steps(tile)
            red = [s["value"] for s in steps if s["color"] == "red"]
            assert rule.threshold in red or (
                rule.op in ("<", "<=") and steps[1]["value"] == rule.threshold
            ), (rule.name, tile["title"], steps)
    table = by_title["各大厅 Halls"]
    overrides = {
        o["matcher"]["options"]: o["properties"] for o in table["fieldConfig"]["overrides"]
    }
    wait = {p["id"]: p["value"] for p in overrides["longest_wait_s"]}
    threshold = next(r.threshold for r in content.settings.rules if r.name == "wait_timeout")
    assert wait["thresholds"]["steps"][-1] == {"value": threshold, "color": "red"}
    assert wait["custom.cellOptions"]["type"] == "color-background"


def test_data_source_secret_is_a_reference(configured_content: Content) -> None:
    assert "secureJsonData" not in configured_content.datasource
    (entry,) = configured_content.files()["datasources/hallkpi.yaml"]["datasources"]
    assert entry["secureJsonData"] == {"password": "$HALLKPI_CLICKHOUSE_PASSWORD"}
    assert entry["jsonData"]["username"] == "grafana"
    text = json.dumps(configured_content.files())
    assert not [v for v in SECRETS.values() if v in text]


def test_contact_points_and_policies(configured_content: Content) -> None:
    points = {cp["name"]: cp for cp in configured_content.contact_points}
    assert {cp["type"] for cp in points.values()} == {"dingding", "email", "wecom", "webhook"}
    assert points["office"]["settings"]["addresses"] == "ops@example.org;lead@example.org"
    assert points["duty"]["settings"]["message"] == '{{ template "hallkpi.message" . }}'
    tree = configured_content.policy_tree
    assert tree["receiver"] == "duty"
    (ours,) = tree["routes"]
    assert ours["object_matchers"] == [["source", "=", "hallkpi"]]
    severities = {r["object_matchers"][0][2]: r for r in ours["routes"]}
    assert set(severities) == {"critical", "warning", "info"}
    critical = {r["receiver"]: r for r in severities["critical"]["routes"]}
    assert set(critical) == {"duty", "office", "yuhua_wecom"}
    assert critical["yuhua_wecom"]["object_matchers"] == [["hall", "=~", "yuhua"]]
    assert all(r["continue"] for r in critical.values())


def test_defaults_route_to_grafanas_default_receiver(default_content: Content) -> None:
    assert default_content.contact_points == ()
    assert default_content.policy_tree["receiver"] == "grafana-default-email"
    assert "contactPoints" not in default_content.files()["alerting/hallkpi.yaml"]


def test_template_is_bilingual(default_content: Content) -> None:
    name, text = default_content.template
    assert name == "hallkpi"
    for word in ("告警", "恢复", "FIRING", "RESOLVED", 'define "hallkpi.message"'):
        assert word in text


def test_kiosk_urls(configured_content: Content) -> None:
    urls = dict(kiosk_urls(configured_content))
    hide = "&_dash.hideTimePicker=true&_dash.hideVariables=true&_dash.hideLinks=true"
    assert all(u.startswith("http://wall.example:3000/d/") and hide in u for u in urls.values())
    assert any("var-hall=yuhua" in u for u in urls.values())
    assert any("/d/hallkpi-city?" in u and "refresh=15s" in u for u in urls.values())


@pytest.mark.parametrize(
    ("grafana", "message"),
    [
        ({"contact_points": {"x": {"type": "dingding", "url": "https://t"}}}, "secret"),
        ({"contact_points": {"x": {"type": "wecom", "msgtype": "text"}}}, "needs url"),
        ({"contact_points": {"x": {"type": "sms", "url": "$X"}}}, "type must be"),
        ({"contact_points": {"x": {"type": "email", "addresses": ["a@b"], "to": 1}}}, "unknown"),
        ({"clickhouse": {"url": "http://u:pw@ch:8123/hallkpi"}}, "no password in the URL"),
        ({"clickhouse": {"url": "http://ch:8123/hall-kpi"}}, "not a plain name"),
        ({"severity": {"wait_timeout": "urgent"}}, "severity must be"),
        ({"severity": {"nope": "info"}}, "no alert rule"),
        ({"evaluate_every_s": 1}, "10 to 3600"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_configuration_errors(grafana: dict[str, Any], message: str) -> None:
    with pytest.raises(GrafanaConfigError, match=message):
        GrafanaSettings.from_config(config_from_mapping({"grafana": grafana}))


def test_two_default_contact_points_are_refused() -> None:
    points = {n: {"type": "email", "addresses": ["a@b"], "default": True} for n in ("a", "b")}
    with pytest.raises(GrafanaConfigError, match="only one"):
        GrafanaSettings.from_config(config_from_mapping({"grafana": {"contact_points": points}}))


def test_duration_text() -> None:
    assert [duration(s) for s in (0, 60, 90, 120, 3600, 5400.5)] == [
        "0s",
        "1m",
        "1m30s",
        "2m",
        "1h",
        "1h30m500ms",
    ]


def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "dashboards" / "hallkpi" / "hallkpi-old.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    assert main(["grafana", "export", str(tmp_path), "--config", str(CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "wrote 8 provisioning files" in out
    assert "_dash.hideVariables=true" in out and "var-hall=gulou" in out
    assert not stale.exists()
    for rel in ("datasources/hallkpi.yaml", "dashboards/hallkpi.yaml", "alerting/hallkpi.yaml"):
        text = (tmp_path / rel).read_text(encoding="utf-8")
        assert text.startswith("# ")
        json.loads(text.split("\n", 2)[2])  # the body is JSON (and so YAML)
    provider = json.loads((tmp_path / "dashboards/hallkpi.yaml").read_text().split("\n", 2)[2])
    assert provider["providers"][0]["options"]["path"].endswith("/dashboards/hallkpi")


def test_registering_the_command_loads_no_grafana_code() -> None:
    """`hallkpi replay` loads every command's register(); ours must stay cheap."""
    code = (
        "import sys, hallkpi.dashboards.cli\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'grafana_foundation_sdk', 'grafana_client', 'niquests', 'jsonschema'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
