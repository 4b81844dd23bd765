"""Every SQL text of the panels, variables and rules, run on chDB over the store schema
with simulated data (macros replaced by concrete SQL): it runs, returns the columns the
panel or rule expects, and the rules return what the engine's last snapshot says."""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import all_queries
from hallkpi.dashboards import Content
from hallkpi.dashboards.alert_rules import rule_uid

NUMERIC = ("Int", "UInt", "Float", "Decimal", "Nullable(Int", "Nullable(UInt", "Nullable(Float")


def _raw_sqls(content: Content) -> set[str]:
    """Every rawSql and variable query in the generated JSON."""
    out = set()
    for doc in content.dashboards:
        for panel in doc.model["panels"]:
            out |= {t["rawSql"] for t in panel.get("targets", [])}
        out |= {v["query"] for v in doc.model["templating"]["list"]}
    for rule in content.rule_group["rules"]:
        out |= {q["model"]["rawSql"] for q in rule["data"] if "rawSql" in q["model"]}
    return out


def test_every_generated_query_is_checked(configured_content: Content) -> None:
    checked = {q["sql"] for q in all_queries(configured_content)}
    assert _raw_sqls(configured_content) == checked


def test_queries_run_and_return_the_expected_columns(chdb_results: dict[str, Any]) -> None:
    failures = []
    for qid, want in chdb_results["declared"].items():
        got = chdb_results["results"][qid]
        if "error" in got:
            failures.append(f"{qid}: {got['error']}\n{got['sql']}")
            continue
        if got["columns"] != want["columns"]:
            failures.append(f"{qid}: columns {got['columns']} != {want['columns']}")
        if want["shape"] == "timeseries" and not got["types"][0].startswith("DateTime"):
            failures.append(f"{qid}: time column is {got['types'][0]}")
        if not qid.startswith("rule ") and not got["rows"]:
            failures.append(f"{qid}: no rows on a simulated day\n{got['sql']}")
    assert not failures, "\n\n".join(failures)


def test_rule_queries_return_hall_labels_and_numbers(chdb_results: dict[str, Any]) -> None:
    for qid, got in chdb_results["results"].items():
        if qid.startswith("rule "):
            assert got["columns"] == ["hall", "value"], qid
            assert "String" in got["types"][0], qid
            assert got["types"][1].startswith(NUMERIC), (qid, got["types"])


def _engine_value(snapshot: dict[str, Any], hall: str, kpi: str, horizon: str) -> Any:
    return snapshot["halls"][hall][horizon][kpi]


def test_rule_queries_agree_with_the_engine(
    configured_content: Content, chdb_results: dict[str, Any]
) -> None:
    """Each twin's query gives, per hall, the engine's value at the last snapshot, and
    leaves out halls whose value is null or whose guard fails (the store is in step)."""
    snapshot = chdb_results["snapshot"]
    seen = 0
    for rule in configured_content.settings.rules:
        got = chdb_results["results"][f"rule {rule_uid(rule.name)}"]
        rows = dict(got["rows"])
        want = {}
        for hall in chdb_results["halls"]:
            value = _engine_value(snapshot, hall, rule.kpi, rule.horizon)
            if rule.guard is not None:
                g_kpi, g_horizon, g_min = rule.guard
                if not _engine_value(snapshot, hall, g_kpi, g_horizon) >= g_min:
                    continue
            if value is not None:
                want[hall] = value
        assert rows.keys() == want.keys(), rule.name
        seen += len(rows)
        for hall, value in want.items():
            assert math.isclose(rows[hall], value, rel_tol=1e-9, abs_tol=1e-9), (rule.name, hall)
    assert seen >= 3 * 3  # the gauge rules give a row per hall: the check is not vacuous


def test_freshness_rule_sees_every_hall(chdb_results: dict[str, Any]) -> None:
    got = chdb_results["results"][f"rule {rule_uid('data_freshness')}"]
    assert [r[0] for r in got["rows"]] == chdb_results["halls"]
    assert all(r[1] == 60 for r in got["rows"])  # the macro's end is 60 s after the last row


@pytest.mark.parametrize("kpi", ["issued", "served"])
def test_peak_and_valley_are_complete_days(kpi: str, chdb_results: dict[str, Any]) -> None:
    label = {"issued": "Issued", "served": "Served"}[kpi]
    (qid,) = [q for q in chdb_results["results"] if "Peak and valley: " in q and label in q]
    rows = chdb_results["results"][qid]["rows"]
    assert {r[0] for r in rows} == set(chdb_results["halls"])
    for _hall, peak_day, peak, valley_day, valley, _mean in rows:
        assert peak_day == valley_day  # one complete day in the data: day 1
        assert peak == valley
