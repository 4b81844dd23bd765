"""Kiosk URLs of the wall screens. Since Grafana 11.3 ``?kiosk`` alone no longer hides the
variables and the time picker: the ``_dash.hide*`` parameters do."""

from __future__ import annotations

from urllib.parse import quote

from hallkpi.dashboards import hall_detail
from hallkpi.dashboards.content import WALL_SCREENS, Content

KIOSK = "kiosk&_dash.hideTimePicker=true&_dash.hideVariables=true&_dash.hideLinks=true"


def kiosk_url(base: str, uid: str, *, refresh: str, hall: str | None = None) -> str:
    """The kiosk URL of one dashboard (optionally for one hall)."""
    url = f"{base.rstrip('/')}/d/{uid}?orgId=1&refresh={quote(refresh)}&{KIOSK}"
    return url + (f"&var-hall={quote(hall)}" if hall else "")


def kiosk_urls(content: Content, base: str | None = None) -> list[tuple[str, str]]:
    """``(title, url)`` of each wall screen, and of the hall detail of each configured hall."""
    settings = content.settings
    root = base or settings.kiosk_base
    titles = {d.uid: d.title for d in content.dashboards}
    out = [(titles[uid], kiosk_url(root, uid, refresh=settings.refresh)) for uid in WALL_SCREENS]
    for hall in settings.halls:
        url = kiosk_url(root, hall_detail.UID, refresh=settings.refresh, hall=hall)
        out.append((f"{titles[hall_detail.UID]} · {hall}", url))
    return out
