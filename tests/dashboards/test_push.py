"""Push through grafana-client against the recording stand-in on loopback: paths, methods,
the Authorization and X-Disable-Provenance headers, bodies, idempotency (a second push
writes nothing and says so), dry runs, updates, stale contact points, errors; and that
push and export deliver the same objects."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_grafana import FakeGrafana
from hallkpi.core.cli import main
from hallkpi.dashboards import Content, GrafanaSettings, PushError, build_content, push
from hallkpi.dashboards.alert_rules import file_group
from hallkpi.dashboards.notifications import file_contact_points

TOKEN = "glsa_test_token"
ALERTING = "/api/v1/provisioning/"


@pytest.fixture
def grafana(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGrafana]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with FakeGrafana(TOKEN) as g:
        yield g


def _first(content: Content, grafana: FakeGrafana) -> None:
    report = push(content, url=grafana.url, token=TOKEN)
    assert report.changed
    assert not grafana.unexpected


def test_first_push_creates_everything(
    configured_content: Content, grafana: FakeGrafana, secrets: dict[str, str]
) -> None:
    report = push(configured_content, url=grafana.url, token=TOKEN)
    assert not grafana.unexpected
    kinds = {(c.kind, c.action) for c in report.changes}
    for kind in ("data source", "folder", "dashboard", "template", "contact point", "rule group"):
        assert (kind, "create") in kinds
    state = grafana.state
    ds = state.datasources["hallkpi-clickhouse"]
    assert ds["type"] == "grafana-clickhouse-datasource"
    assert ds["jsonData"]["username"] == "grafana" and "password" not in ds["jsonData"]
    assert state.passwords["hallkpi-clickhouse"] == secrets["HALLKPI_CLICKHOUSE_PASSWORD"]
    assert state.folders["hallkpi"]["title"] == "hallkpi"
    for doc in configured_content.dashboards:
        stored = state.dashboards[doc.uid]
        assert stored["meta"]["folderUid"] == "hallkpi"
        assert {
            k: v for k, v in stored["dashboard"].items() if k not in ("id", "version")
        } == doc.model
    group = state.rule_groups[("hallkpi", "hallkpi")]
    assert [r["uid"] for r in group["rules"]] == [
        r["uid"] for r in configured_content.rule_group["rules"]
    ]
    duty = state.contact_points["hallkpi-cp-duty"]
    assert duty["settings"]["url"] == secrets["HALLKPI_DINGTALK_URL"]  # expanded for the API
    assert state.policies == configured_content.policy_tree
    assert state.templates["hallkpi"]["template"] == configured_content.template[1]


def test_headers_paths_and_methods(
    configured_content: Content, grafana: FakeGrafana, secrets: dict[str, str]
) -> None:
    _first(configured_content, grafana)
    assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in grafana.requests)
    alerting_writes = [r for r in grafana.writes() if r.path.startswith(ALERTING)]
    assert alerting_writes
    assert all(r.headers.get("X-Disable-Provenance") == "true" for r in alerting_writes)
    writes = {(r.method, r.path.split("?")[0]) for r in grafana.writes()}
    assert ("POST", "/api/datasources") in writes
    assert ("POST", "/api/folders") in writes
    assert ("POST", "/api/dashboards/db") in writes
    assert ("PUT", "/api/v1/provisioning/folder/hallkpi/rule-groups/hallkpi") in writes
    assert ("PUT", "/api/v1/provisioning/policies") in writes
    assert ("PUT", "/api/v1/provisioning/templates/hallkpi") in writes
    assert ("POST", "/api/v1/provisioning/contact-points") in writes
    saves = [r.body for r in grafana.writes() if r.path == "/api/dashboards/db"]
    assert all(b["overwrite"] is True and b["folderUid"] == "hallkpi" for b in saves)
    # the data source's secret travels only in secureJsonData, once, at creation
    (create,) = [r.body for r in grafana.writes() if r.path == "/api/datasources"]
    assert create["secureJsonData"] == {"password": secrets["HALLKPI_CLICKHOUSE_PASSWORD"]}


def test_second_push_is_a_no_op(
    configured_content: Content, grafana: FakeGrafana, secrets: dict[str, str]
) -> None:
    _first(configured_content, grafana)
    before = len(grafana.writes())
    report = push(configured_content, url=grafana.url, token=TOKEN)
    assert not report.changed
    assert len(grafana.writes()) == before
    assert report.lines()[-1].startswith("no changes")


def test_dry_run_only_reads(default_content: Content, grafana: FakeGrafana) -> None:
    report = push(default_content, url=grafana.url, token=TOKEN, dry_run=True)
    assert not grafana.writes()
    assert report.changed and all(line.startswith("would") for line in report.lines())


def test_a_changed_threshold_updates_rules_and_colours_only(
    configured: GrafanaSettings, grafana: FakeGrafana, secrets: dict[str, str]
) -> None:
    _first(build_content(configured), grafana)
    rules = tuple(
        dataclasses.replace(r, threshold=9.0) if r.name == "congestion" else r
        for r in configured.rules
    )
    report = push(
        build_content(dataclasses.replace(configured, rules=rules)), url=grafana.url, token=TOKEN
    )
    changed = {(c.kind, c.name) for c in report.changes if c.action != "unchanged"}
    assert ("rule group", "hallkpi (7 rules)") in changed
    assert {k for k, _ in changed} == {"rule group", "dashboard"}
    group = grafana.state.rule_groups[("hallkpi", "hallkpi")]
    (twin,) = [r for r in group["rules"] if r["labels"]["engine_rule"] == "congestion"]
    assert twin["data"][2]["model"]["conditions"][0]["evaluator"]["params"] == [9.0]


def test_removed_contact_point_is_deleted_after_the_policies(
    configured: GrafanaSettings, grafana: FakeGrafana, secrets: dict[str, str]
) -> None:
    _first(build_content(configured), grafana)
    fewer = dataclasses.replace(
        configured, contact_points=tuple(p for p in configured.contact_points if p.name != "hook")
    )
    report = push(build_content(fewer), url=grafana.url, token=TOKEN)
    assert ("contact point", "hallkpi-cp-hook", "delete") in {
        (c.kind, c.name, c.action) for c in report.changes
    }
    assert "hallkpi-cp-hook" not in grafana.state.contact_points


def test_push_and_export_deliver_the_same_objects(
    configured_content: Content, grafana: FakeGrafana, secrets: dict[str, str]
) -> None:
    _first(configured_content, grafana)
    files = configured_content.files()
    state = grafana.state
    for doc in configured_content.dashboards:
        model = state.dashboards[doc.uid]["dashboard"]
        assert files[f"dashboards/hallkpi/{doc.uid}.json"] == {
            k: v for k, v in model.items() if k not in ("id", "version")
        }
    alerting = files["alerting/hallkpi.yaml"]
    stored = dict(state.rule_groups[("hallkpi", "hallkpi")])
    assert alerting["groups"] == [file_group(stored, "hallkpi")]
    assert alerting["policies"] == [{"orgId": 1, **state.policies}]
    assert alerting["templates"][0]["template"] == state.templates["hallkpi"]["template"]
    pushed = [state.contact_points[cp["uid"]] for cp in configured_content.contact_points]
    exported = alerting["contactPoints"]
    for got, want in zip(file_contact_points(pushed), exported, strict=True):
        settings = want["receivers"][0]["settings"]
        for key, value in settings.items():  # the file has $NAME where the API got the value
            if isinstance(value, str) and value.startswith("$"):
                name = value.strip("${}")
                assert got["receivers"][0]["settings"][key] == secrets[name]
                got["receivers"][0]["settings"][key] = value
        assert got == want
    (ds,) = files["datasources/hallkpi.yaml"]["datasources"]
    api = state.datasources["hallkpi-clickhouse"]
    assert {k: ds[k] for k in ("uid", "name", "type", "jsonData")} == {
        k: api[k] for k in ("uid", "name", "type", "jsonData")
    }


def test_wrong_token_and_unreachable_grafana(
    default_content: Content, grafana: FakeGrafana
) -> None:
    with pytest.raises(PushError, match="401"):
        push(default_content, url=grafana.url, token="wrong")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PushError, match="cannot reach Grafana"):
        push(default_content, url=f"http://127.0.0.1:{port}", token=TOKEN, timeout_s=2)


def test_missing_secret_is_named(
    configured_content: Content, grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HALLKPI_DINGTALK_URL", raising=False)
    with pytest.raises(PushError, match="HALLKPI_DINGTALK_URL"):
        push(configured_content, url=grafana.url, token=TOKEN)


def test_cli_push_twice(
    grafana: FakeGrafana,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HALLKPI_GRAFANA_TOKEN", raising=False)
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    args = ["grafana", "push", "--url", grafana.url, "--token-file", str(token)]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "create    dashboard     hallkpi-city" in first
    assert main(args) == 0
    second = capsys.readouterr().out
    assert "no changes" in second
    assert f"{grafana.url}/d/hallkpi-city?orgId=1&refresh=10s&kiosk" in second
    assert main(["grafana", "push", "--url", grafana.url]) == 2
    assert "HALLKPI_GRAFANA_TOKEN" in capsys.readouterr().err
