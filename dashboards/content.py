"""``Content``: every Grafana object hallkpi provisions, built once from the settings and
held in the HTTP API's form; :meth:`Content.files` gives the same objects in the
provisioning-file form. Export and push both start from one ``Content``, so they cannot
drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hallkpi.dashboards import (
    alert_rules,
    call_center,
    city_overview,
    datasource,
    hall_detail,
    message_template,
    notifications,
    staff_performance,
    trends_board,
)
from hallkpi.dashboards.panels import Board
from hallkpi.dashboards.query import SqlQuery
from hallkpi.dashboards.sdk import JSONEncoder
from hallkpi.dashboards.settings import GrafanaSettings
from hallkpi.dashboards.sql import freshness_query, rule_query

BOARDS: tuple[Callable[[GrafanaSettings], Board], ...] = (
    city_overview.build,
    hall_detail.build,
    call_center.build,
    staff_performance.build,
    trends_board.build,
)
WALL_SCREENS: tuple[str, ...] = (city_overview.UID, call_center.UID)
"""Dashboards meant for wall screens (kiosk URLs are printed for these)."""
PROVIDER = "hallkpi"


def plain(obj: object) -> Any:
    """An SDK object (or anything with ``to_json``) as plain JSON values."""
    return json.loads(json.dumps(obj, cls=JSONEncoder))


@dataclass(frozen=True)
class DashboardDoc:
    """A dashboard's JSON model and the SQL of each panel: ``(panel title, query)``."""

    uid: str
    title: str
    model: dict[str, Any]
    queries: tuple[tuple[str, SqlQuery], ...]


@dataclass(frozen=True)
class Content:
    """Everything to provision, in API form (see the module doc)."""

    settings: GrafanaSettings
    datasource: dict[str, Any]
    folder: dict[str, str]
    dashboards: tuple[DashboardDoc, ...]
    rule_group: dict[str, Any]
    rule_queries: dict[str, SqlQuery]
    contact_points: tuple[dict[str, Any], ...]
    policy_tree: dict[str, Any]
    template: tuple[str, str]

    def files(self) -> dict[str, Any]:
        """Provisioning files by relative path: JSON documents (the ``.yaml`` ones are
        YAML too: JSON is a subset of YAML 1.2, which Grafana's loader reads)."""
        files: dict[str, Any] = {
            "datasources/hallkpi.yaml": datasource.file_datasources(self.settings),
            "dashboards/hallkpi.yaml": {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": PROVIDER,
                        "orgId": 1,
                        "type": "file",
                        "folder": self.folder["title"],
                        "disableDeletion": False,
                        "allowUiUpdates": False,
                        "updateIntervalSeconds": 30,
                        "options": {
                            "path": self.settings.dashboards_path,
                            "foldersFromFilesStructure": False,
                        },
                    }
                ],
            },
        }
        for doc in self.dashboards:
            files[f"dashboards/hallkpi/{doc.uid}.json"] = doc.model
        alerting: dict[str, Any] = {
            "apiVersion": 1,
            "groups": [alert_rules.file_group(self.rule_group, self.folder["title"])],
            "contactPoints": notifications.file_contact_points(list(self.contact_points)),
            "policies": [{"orgId": 1, **self.policy_tree}],
            "templates": [{"orgId": 1, "name": self.template[0], "template": self.template[1]}],
        }
        if not alerting["contactPoints"]:
            del alerting["contactPoints"]
        files["alerting/hallkpi.yaml"] = alerting
        return files


def _dashboard(board: Board) -> DashboardDoc:
    model = plain(board.builder.build())
    return DashboardDoc(board.uid, str(model["title"]), model, tuple(board.queries))


def build_content(settings: GrafanaSettings) -> Content:
    """Builds every object from the settings (the engine rules, KPI names, contact points)."""
    db = settings.clickhouse.database
    group = plain(alert_rules.rule_group(settings).build())
    queries = {alert_rules.rule_uid(r.name): rule_query(db, r) for r in settings.rules}
    queries[alert_rules.rule_uid(alert_rules.FRESHNESS_RULE)] = freshness_query(db)
    return Content(
        settings=settings,
        datasource=datasource.api_datasource(settings),
        folder={"uid": alert_rules.FOLDER_UID, "title": settings.folder},
        dashboards=tuple(_dashboard(build(settings)) for build in BOARDS),
        rule_group=group,
        rule_queries=queries,
        contact_points=tuple(
            plain(notifications.contact_point(spec).build()) for spec in settings.contact_points
        ),
        policy_tree=plain(notifications.policy_tree(settings).build()),
        template=(message_template.NAME, message_template.TEMPLATE),
    )
