"""grafana-foundation-sdk 0.0.21, imported in one place.

Its classic (v1) dashboard models warn ``DeprecationWarning: Prefer using
dashboardv2.Dashboard`` when imported. We build v1 dashboards on purpose: they are what
Grafana's file provisioning and ``POST /api/dashboards/db`` take. So the SDK is imported
here, with that one warning silenced, and the other modules import it from here.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Prefer using dashboardv2", DeprecationWarning)
    from grafana_foundation_sdk.builders import alerting as alerting_builder
    from grafana_foundation_sdk.builders import common as common_builder
    from grafana_foundation_sdk.builders import dashboard as dashboard_builder
    from grafana_foundation_sdk.builders import expr as expr_builder
    from grafana_foundation_sdk.builders import stat, table, timeseries
    from grafana_foundation_sdk.cog import builder as cogbuilder
    from grafana_foundation_sdk.cog import variants as cogvariants
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import alerting as alerting_model
    from grafana_foundation_sdk.models import common, dashboard

__all__ = [
    "JSONEncoder",
    "alerting_builder",
    "alerting_model",
    "cogbuilder",
    "cogvariants",
    "common",
    "common_builder",
    "dashboard",
    "dashboard_builder",
    "expr_builder",
    "stat",
    "table",
    "timeseries",
]
