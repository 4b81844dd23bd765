if __name__ != "hallkpi.dashboards":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.dashboards, not {__name__!r}")

# hallkpi.dashboards: Grafana provisioning built from the engine's KPI names and alert
# rules: the ClickHouse data source, a folder, wall-screen dashboards (made with
# grafana-foundation-sdk builders), Grafana-managed alert rules (one twin per engine
# rule), contact points, a notification policy tree and a bilingual message template.
#
#     from hallkpi.dashboards import GrafanaSettings, build_content, export_tree
#     content = build_content(GrafanaSettings.load("hallkpi.toml"))
#     export_tree(content, "hallkpi-data/grafana")      # provisioning files
#     push(content, url="http://grafana:3000", token=...)  # or the HTTP API
#
# Layers, bottom up: settings (the [grafana] section), query (the ClickHouse dataquery),
# sql + display (SQL texts, units and colour thresholds), panels and the five boards,
# alert_rules + notifications + message_template, datasource, content (everything, in
# API and file form), export / http_push / kiosk, cli (`hallkpi grafana`). See
# docs/GRAFANA.md.

# The names below load on first use (PEP 562), so that `hallkpi replay` and the other
# commands, which load this package's `grafana` command, do not import the Grafana SDK.

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hallkpi.dashboards.content import Content, build_content
    from hallkpi.dashboards.errors import GrafanaConfigError, GrafanaError, PushError
    from hallkpi.dashboards.export import export_tree
    from hallkpi.dashboards.http_push import PushReport, push
    from hallkpi.dashboards.kiosk import kiosk_urls
    from hallkpi.dashboards.settings import ContactPointSpec, GrafanaSettings

_WHERE = {
    "Content": "content",
    "build_content": "content",
    "GrafanaConfigError": "errors",
    "GrafanaError": "errors",
    "PushError": "errors",
    "export_tree": "export",
    "kiosk_urls": "kiosk",
    "PushReport": "http_push",
    "push": "http_push",
    "ContactPointSpec": "settings",
    "GrafanaSettings": "settings",
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'hallkpi.dashboards' has no attribute {name!r}")
    return getattr(importlib.import_module(f"hallkpi.dashboards.{module}"), name)


__all__ = [
    "ContactPointSpec",
    "Content",
    "GrafanaConfigError",
    "GrafanaError",
    "GrafanaSettings",
    "PushError",
    "PushReport",
    "build_content",
    "export_tree",
    "kiosk_urls",
    "push",
]
