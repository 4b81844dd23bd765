"""Every generated object validated against the shared Grafana schemas: dashboards and
their panels' options and field configs, the rule group, rules and their expressions,
contact points, the policy tree, the template, the data source settings, and the
alerting provisioning file. Skipped (with the reason) when the schemas are absent."""

from __future__ import annotations

from pathlib import Path

from hallkpi.dashboards import Content
from jsonschema import Draft7Validator
from schemas import definition, errors, file_schema, sdk_schema

PANEL_SCHEMAS = {"stat": "stat", "timeseries": "timeseries", "table": "table"}


def test_dashboards(content: Content, schemas: Path) -> None:
    dash = definition(schemas, "dashboard", "Dashboard")
    found = []
    for doc in content.dashboards:
        found += errors(dash, doc.model, doc.uid)
        for panel in doc.model["panels"]:
            kind = PANEL_SCHEMAS[panel["type"]]
            where = f"{doc.uid}/{panel['title']}"
            found += errors(definition(schemas, kind, "Options"), panel["options"], where)
            custom = panel["fieldConfig"]["defaults"].get("custom")
            if custom is not None and "FieldConfig" in sdk_schema(schemas, kind)["definitions"]:
                found += errors(definition(schemas, kind, "FieldConfig"), custom, where)
    assert not found, "\n".join(found)


def test_rule_group_rules_and_expressions(content: Content, schemas: Path) -> None:
    group = content.rule_group
    found = errors(definition(schemas, "alerting", "RuleGroup"), group, "group")
    for rule in group["rules"]:
        found += errors(definition(schemas, "alerting", "Rule"), rule, rule["uid"])
        for q in rule["data"]:
            found += errors(definition(schemas, "alerting", "Query"), q, rule["uid"])
            kind = q["model"].get("type")
            if kind == "reduce":
                found += errors(definition(schemas, "expr", "TypeReduce"), q["model"], "B")
            elif kind == "threshold":
                found += errors(definition(schemas, "expr", "TypeThreshold"), q["model"], "C")
    assert not found, "\n".join(found)


def test_contact_points_policies_template(content: Content, schemas: Path) -> None:
    found = []
    for cp in content.contact_points:
        found += errors(definition(schemas, "alerting", "ContactPoint"), cp, cp["name"])
    found += errors(
        definition(schemas, "alerting", "NotificationPolicy"), content.policy_tree, "policies"
    )
    name, text = content.template
    found += errors(
        definition(schemas, "alerting", "NotificationTemplate"),
        {"name": name, "template": text},
        "template",
    )
    assert not found, "\n".join(found)


def test_alerting_provisioning_file(content: Content, schemas: Path) -> None:
    doc = content.files()["alerting/hallkpi.yaml"]
    found = errors(file_schema(schemas, "alerting-file-provisioning.schema.json"), doc, "file")
    assert not found, "\n".join(found)


def test_datasource_settings(content: Content, schemas: Path) -> None:
    plugin = file_schema(schemas, "clickhouse-datasource-settings.schema.json").schema
    json_data = Draft7Validator(plugin["spec"]["properties"]["jsonData"])
    (entry,) = content.files()["datasources/hallkpi.yaml"]["datasources"]
    found = errors(json_data, entry["jsonData"], "jsonData")
    found += errors(json_data, content.datasource["jsonData"], "api jsonData")
    known = set(plugin["spec"]["properties"]["jsonData"]["properties"])
    assert set(entry["jsonData"]) <= known  # no typo the plugin would silently ignore
    secure = {v["key"] for v in plugin["secureValues"]}
    assert set(entry["secureJsonData"]) <= secure
    assert not found, "\n".join(found)
