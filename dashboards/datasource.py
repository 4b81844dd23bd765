"""The ClickHouse data source (plugin ``grafana-clickhouse-datasource``, fixed uid).

The user name goes in ``jsonData.username`` (where the plugin reads it), the password in
``secureJsonData.password``: in the provisioning file as the reference
``$HALLKPI_CLICKHOUSE_PASSWORD`` (Grafana substitutes it when it reads the file), through
the API from push's own environment. The secret itself is never written to a file.
"""

from __future__ import annotations

import os
from typing import Any

from hallkpi.dashboards.query import DATASOURCE_UID, PLUGIN_ID
from hallkpi.dashboards.settings import GrafanaSettings

NAME = "hallkpi ClickHouse"


def json_data(settings: GrafanaSettings) -> dict[str, Any]:
    """The plugin's ``jsonData`` (see the plugin's settings schema)."""
    ch = settings.clickhouse
    data: dict[str, Any] = {
        "host": ch.host,
        "port": ch.port,
        "protocol": "http",
        "secure": ch.secure,
        "username": ch.username,
        "defaultDatabase": ch.database,
        "dialTimeout": "10",
        "queryTimeout": "60",
    }
    if ch.path:
        data["path"] = ch.path
    return data


def api_datasource(settings: GrafanaSettings) -> dict[str, Any]:
    """The data source as the HTTP API takes it, without any secret."""
    return {
        "uid": DATASOURCE_UID,
        "name": NAME,
        "type": PLUGIN_ID,
        "access": "proxy",
        "isDefault": False,
        "jsonData": json_data(settings),
    }


def password_from_env(settings: GrafanaSettings) -> str | None:
    """The ClickHouse password from push's environment (None when unset)."""
    return os.environ.get(settings.clickhouse.password_env) or None


def file_datasources(settings: GrafanaSettings) -> dict[str, Any]:
    """The provisioning file (``datasources/hallkpi.yaml``) with the password reference."""
    entry = {
        **api_datasource(settings),
        "orgId": 1,
        "editable": False,
        "secureJsonData": {"password": "$" + settings.clickhouse.password_env},
    }
    return {"apiVersion": 1, "datasources": [entry]}
