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
# API and file form), export / push / kiosk, cli (`hallkpi grafana`). See docs/GRAFANA.md.

from hallkpi.dashboards.content import Content, build_content
from hallkpi.dashboards.errors import GrafanaConfigError, GrafanaError, PushError
from hallkpi.dashboards.export import export_tree
from hallkpi.dashboards.kiosk import kiosk_urls
from hallkpi.dashboards.push import PushReport, push
from hallkpi.dashboards.settings import ContactPointSpec, GrafanaSettings

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
