"""Contact points (from ``[grafana.contact_points.*]``) and the notification policy tree.

The tree routes only hallkpi's alerts (``source = hallkpi``), grouped by rule and hall,
then by ``severity`` (repeat every 30 minutes when critical, 2 hours when a warning,
12 hours when info); under each severity one route per contact point that takes it,
limited to its halls when it lists some (``hall =~ a|b``), all with ``continue`` so
every matching contact point is notified. What no route takes goes to the default
contact point (``default = true``, else the first configured, else Grafana's
``grafana-default-email``).
"""

from __future__ import annotations

from typing import Any

from hallkpi.dashboards import message_template
from hallkpi.dashboards.sdk import alerting_builder as alerting
from hallkpi.dashboards.sdk import alerting_model, cogbuilder
from hallkpi.dashboards.settings import SEVERITIES, ContactPointSpec, GrafanaSettings

GRAFANA_DEFAULT_RECEIVER = "grafana-default-email"
REPEAT = {"critical": "30m", "warning": "2h", "info": "12h"}


def _templated(spec: ContactPointSpec) -> dict[str, Any]:
    """The spec's settings plus the bilingual title and message."""
    settings = dict(spec.settings)
    if spec.type == "email":
        settings.setdefault("subject", message_template.TITLE)
    else:
        settings.setdefault("title", message_template.TITLE)
    settings.setdefault("message", message_template.MESSAGE)
    if spec.type == "dingding":
        settings.setdefault("msgType", "markdown")
    if spec.type == "wecom":
        settings.setdefault("msgtype", "markdown")
    if spec.type == "webhook":
        settings.setdefault("httpMethod", "POST")
    return settings


def contact_point(spec: ContactPointSpec) -> alerting.ContactPoint:
    """The contact point of one spec (secrets stay ``$NAME`` references)."""
    return (
        alerting.ContactPoint()
        .uid(spec.uid)
        .name(spec.name)
        .type(spec.type)
        .settings(_templated(spec))
        .disable_resolve_message(spec.disable_resolve_message)
    )


def default_receiver(settings: GrafanaSettings) -> str:
    points = settings.contact_points
    for spec in points:
        if spec.default:
            return spec.name
    return points[0].name if points else GRAFANA_DEFAULT_RECEIVER


def _hall_regex(halls: tuple[str, ...]) -> str:
    return "|".join(h.replace(".", "\\.") for h in halls)


def policy_tree(settings: GrafanaSettings) -> alerting.NotificationPolicy:
    """The whole notification policy tree (it replaces the organisation's tree)."""
    root = default_receiver(settings)
    by_severity: list[cogbuilder.Builder[alerting_model.NotificationPolicy]] = []
    for severity in SEVERITIES:
        takers = [p for p in settings.contact_points if severity in p.severities]
        if not takers:
            continue
        routes: list[cogbuilder.Builder[alerting_model.NotificationPolicy]] = []
        for spec in takers:
            route = alerting.NotificationPolicy().receiver(spec.name).continue_val(True)
            if spec.halls:
                route = route.object_matchers([["hall", "=~", _hall_regex(spec.halls)]])
            routes.append(route)
        by_severity.append(
            alerting.NotificationPolicy()
            .receiver(root)
            .object_matchers([["severity", "=", severity]])
            .repeat_interval(REPEAT[severity])
            .routes(routes)
        )
    hallkpi = (
        alerting.NotificationPolicy()
        .receiver(root)
        .object_matchers([["source", "=", "hallkpi"]])
        .group_by(["alertname", "engine_rule", "hall"])
        .group_wait("10s")
        .group_interval("1m")
        .repeat_interval("4h")
        .routes(by_severity)
    )
    return (
        alerting.NotificationPolicy()
        .receiver(root)
        .group_by(["grafana_folder", "alertname"])
        .routes([hallkpi])
    )


def file_contact_points(api_points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Contact points in the provisioning-file form (``contactPoints:``)."""
    out = []
    for cp in api_points:
        receiver = {k: cp[k] for k in ("uid", "type", "settings", "disableResolveMessage")}
        out.append({"orgId": 1, "name": cp["name"], "receivers": [receiver]})
    return out
