"""``export_tree``: writes the provisioning tree Grafana reads at start-up::

    DIR/datasources/hallkpi.yaml        the ClickHouse data source
    DIR/dashboards/hallkpi.yaml         the dashboard provider (folder, path)
    DIR/dashboards/hallkpi/*.json       one file per dashboard
    DIR/alerting/hallkpi.yaml           rule group, contact points, policies, template

Mount ``DIR`` as ``/etc/grafana/provisioning`` (docs/GRAFANA.md). The ``.yaml`` files
hold JSON, which is YAML too. Secrets appear only as ``$NAME`` references.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hallkpi.dashboards.content import Content
from hallkpi.dashboards.errors import GrafanaError

HEADER = (
    "# Written by `hallkpi grafana export`; edit the configuration, not this file.\n"
    "# JSON is YAML: Grafana's provisioning reads this file as YAML.\n"
)


def render(path: str, document: Any) -> str:
    """The text of one provisioning file."""
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return HEADER + text if path.endswith(".yaml") else text


def _write(path: Path, text: str) -> None:
    """Writes atomically (Grafana may read the folder while we write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".hallkpi-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_tree(content: Content, directory: str | Path) -> list[Path]:
    """Writes every file of the tree under ``directory``; returns the paths written.
    Dashboard files of ours that are no longer generated are removed."""
    root = Path(directory)
    written = []
    try:
        for rel, document in sorted(content.files().items()):
            path = root / rel
            _write(path, render(rel, document))
            written.append(path)
        ours = {p.name for p in written if p.parent == root / "dashboards" / "hallkpi"}
        for stale in (root / "dashboards" / "hallkpi").glob("*.json"):
            if stale.name not in ours:
                stale.unlink()
    except OSError as exc:
        raise GrafanaError(f"cannot write the provisioning tree in {root}: {exc}") from exc
    return written
