"""``push``: upserts the content through Grafana's HTTP API (grafana-client), idempotently.

Every object has a fixed uid (or name), so a push reads each one, compares it with what
it would send (what we send must be contained in what Grafana returns; Grafana adds ids,
versions and defaults, and masks secrets as ``[REDACTED]``) and writes only what differs.
A second push therefore writes nothing and says "no changes". With ``dry_run`` only the
reads happen and the plan is returned.

Alerting writes always carry ``X-Disable-Provenance: true``: Grafana refuses to switch an
object between provenances, so the header must be sent always or never. We send it, so
the objects stay editable in the UI and the next push restores them.

Secrets: ``$NAME`` references in contact point settings and the data source password
(``$HALLKPI_CLICKHOUSE_PASSWORD`` by default) are read from this process's environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from hallkpi.dashboards import datasource
from hallkpi.dashboards.content import Content
from hallkpi.dashboards.errors import PushError
from hallkpi.dashboards.settings import env_name, is_env_reference

Action = Literal["create", "update", "delete", "unchanged"]
REDACTED = "[REDACTED]"
CONTACT_POINT_PREFIX = "hallkpi-cp-"


@dataclass(frozen=True)
class Change:
    """One object and what the push does (or would do) to it."""

    kind: str
    name: str
    action: Action


@dataclass
class PushReport:
    """What a push did (or, with ``dry_run``, would do)."""

    url: str
    dry_run: bool = False
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)

    def lines(self) -> list[str]:
        verb = "would " if self.dry_run else ""
        out = [
            f"{verb}{c.action:<9} {c.kind:<13} {c.name}"
            for c in self.changes
            if c.action != "unchanged"
        ]
        counts = {a: sum(c.action == a for c in self.changes) for a in ("create", "update")}
        unchanged = sum(c.action == "unchanged" for c in self.changes)
        if not self.changed:
            out.append(f"no changes: {self.url} already has all {unchanged} objects")
        else:
            deleted = sum(c.action == "delete" for c in self.changes)
            out.append(
                f"{verb}create {counts['create']}, update {counts['update']}, "
                f"delete {deleted}, unchanged {unchanged} ({self.url})"
            )
        return out


def matches(desired: Any, current: Any) -> bool:
    """True when everything in ``desired`` is in ``current`` (extra keys allowed, lists
    element by element, numbers by value, a ``[REDACTED]`` secret matches any value)."""
    if isinstance(current, str) and current == REDACTED:
        return True
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(
            k in current and matches(v, current[k]) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(current, list)
            and len(desired) == len(current)
            and all(matches(a, b) for a, b in zip(desired, current, strict=True))
        )
    numbers = (int, float)
    if (
        isinstance(desired, numbers)
        and isinstance(current, numbers)
        and not isinstance(desired, bool)
        and not isinstance(current, bool)
    ):
        return float(desired) == float(current)
    return bool(desired == current)


def expand_secrets(settings: dict[str, Any], where: str) -> dict[str, Any]:
    """Settings with each ``$NAME`` value read from the environment."""
    out = dict(settings)
    for key, value in settings.items():
        if isinstance(value, str) and is_env_reference(value):
            name = env_name(value)
            if name not in os.environ:
                raise PushError(f"{where}: {key} refers to ${name}, which is not set")
            out[key] = os.environ[name]
    return out


class _Pusher:
    def __init__(self, api: Any, content: Content, report: PushReport) -> None:
        self.api = api
        self.content = content
        self.report = report

    def call(self, what: str, fn: Callable[[], Any], *, missing_ok: bool = False) -> Any:
        """Runs one API call; a 404 is None when ``missing_ok``; errors become PushError."""
        from grafana_client.client import GrafanaException
        from niquests.exceptions import RequestException

        try:
            return fn()
        except GrafanaException as exc:
            if missing_ok and exc.status_code == 404:
                return None
            raise PushError(f"{what}: Grafana answered {exc.status_code}: {exc.message}") from None
        except RequestException as exc:
            raise PushError(f"{what}: cannot reach Grafana at {self.report.url}: {exc}") from None

    def record(self, kind: str, name: str, current: Any, same: bool) -> Action:
        action: Action = "create" if current is None else "unchanged" if same else "update"
        self.report.changes.append(Change(kind, name, action))
        return action

    def write(self, action: Action) -> bool:
        return action in ("create", "update", "delete") and not self.report.dry_run

    def datasource(self, rotate_password: bool) -> None:
        desired = self.content.datasource
        uid = desired["uid"]
        ds = self.api.datasource
        current = self.call(
            f"read data source {uid}", lambda: ds.get_datasource_by_uid(uid), missing_ok=True
        )
        password = datasource.password_from_env(self.content.settings)
        stored = bool(((current or {}).get("secureJsonFields") or {}).get("password"))
        same = matches(desired, current) and (password is None or stored) and not rotate_password
        action = self.record("data source", uid, current, same)
        if not self.write(action):
            return
        body = dict(desired)
        if password is not None and (action == "create" or rotate_password or not stored):
            body["secureJsonData"] = {"password": password}
        if action == "create":
            self.call(f"create data source {uid}", lambda: ds.create_datasource(body))
        else:
            self.call(f"update data source {uid}", lambda: ds.update_datasource_by_uid(uid, body))

    def folder(self) -> None:
        uid, title = self.content.folder["uid"], self.content.folder["title"]
        f = self.api.folder
        current = self.call(f"read folder {uid}", lambda: f.get_folder(uid), missing_ok=True)
        action = self.record(
            "folder", uid, current, current is not None and current.get("title") == title
        )
        if not self.write(action):
            return
        if action == "create":
            self.call(f"create folder {uid}", lambda: f.create_folder(title, uid=uid))
        else:
            version = current.get("version")
            self.call(
                f"update folder {uid}",
                lambda: f.update_folder(uid, title=title, version=version, overwrite=True),
            )

    def dashboards(self) -> None:
        folder = self.content.folder["uid"]
        d = self.api.dashboard
        for doc in self.content.dashboards:
            uid = doc.uid
            current = self.call(
                f"read dashboard {uid}", partial(d.get_dashboard, uid), missing_ok=True
            )
            same = (
                current is not None
                and matches(doc.model, current.get("dashboard"))
                and (current.get("meta") or {}).get("folderUid") == folder
            )
            action = self.record("dashboard", uid, current, same)
            if self.write(action):
                body = {
                    "dashboard": {**doc.model, "id": None},
                    "folderUid": folder,
                    "overwrite": True,
                    "message": "hallkpi grafana push",
                }
                self.call(f"save dashboard {uid}", partial(d.update_dashboard, body))

    def template(self) -> None:
        name, text = self.content.template
        ap = self.api.alertingprovisioning
        current = self.call(f"read template {name}", lambda: ap.get_template(name), missing_ok=True)
        action = self.record("template", name, current, matches({"template": text}, current))
        if self.write(action):
            body = {"template": text, "version": (current or {}).get("version", "")}
            self.call(
                f"save template {name}",
                lambda: ap.create_or_update_template(name, body, disable_provenance=True),
            )

    def contact_points(self) -> list[str]:
        """Upserts ours; returns the uids of stale hallkpi contact points (deleted later,
        once the policy tree no longer names them)."""
        ap = self.api.alertingprovisioning
        listed = self.call("read contact points", ap.get_contactpoints) or []
        by_uid = {cp.get("uid"): cp for cp in listed if isinstance(cp, dict)}
        wanted = set()
        for cp in self.content.contact_points:
            uid = cp["uid"]
            wanted.add(uid)
            desired = {
                **cp,
                "settings": expand_secrets(cp["settings"], f"contact point {cp['name']}"),
            }
            current = by_uid.get(uid)
            action = self.record("contact point", cp["name"], current, matches(desired, current))
            if action == "create" and self.write(action):
                self.call(
                    f"create contact point {uid}",
                    partial(ap.create_contactpoint, desired, disable_provenance=True),
                )
            elif self.write(action):
                self.call(
                    f"update contact point {uid}",
                    partial(ap.update_contactpoint, uid, desired, disable_provenance=True),
                )
        stale = [u for u in by_uid if isinstance(u, str) and u.startswith(CONTACT_POINT_PREFIX)]
        return [u for u in stale if u not in wanted]

    def delete_contact_points(self, uids: list[str]) -> None:
        ap = self.api.alertingprovisioning
        for uid in uids:
            self.report.changes.append(Change("contact point", uid, "delete"))
            if self.write("delete"):
                self.call(f"delete contact point {uid}", partial(ap.delete_contactpoint, uid))

    def policies(self) -> None:
        desired = self.content.policy_tree
        ap = self.api.alertingprovisioning
        current = self.call("read notification policies", ap.get_notification_policy_tree)
        action: Action = "unchanged" if matches(desired, current) else "update"
        self.report.changes.append(Change("policy tree", "root", action))
        if self.write(action):
            self.call(
                "save notification policies",
                lambda: ap.set_notification_policy_tree(desired, disable_provenance=True),
            )

    def rule_group(self) -> None:
        group = self.content.rule_group
        folder, title = group["folderUid"], group["title"]
        ap = self.api.alertingprovisioning
        current = self.call(
            f"read rule group {title}", lambda: ap.get_rule_group(folder, title), missing_ok=True
        )
        action = self.record(
            "rule group", f"{title} ({len(group['rules'])} rules)", current, matches(group, current)
        )
        if self.write(action):
            self.call(
                f"save rule group {title}",
                lambda: ap.update_rule_group(folder, title, group, disable_provenance=True),
            )


def push(
    content: Content,
    *,
    url: str,
    token: str,
    dry_run: bool = False,
    timeout_s: float = 10.0,
    rotate_password: bool = False,
) -> PushReport:
    """Upserts everything into the Grafana at ``url`` with a service-account ``token``
    (Bearer); returns what changed. ``rotate_password`` sends the data source password
    even when Grafana already stores one."""
    from grafana_client.api import GrafanaApi

    report = PushReport(url=url, dry_run=dry_run)
    api: Any = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    pusher = _Pusher(api, content, report)
    pusher.datasource(rotate_password)
    pusher.folder()
    pusher.dashboards()
    pusher.template()
    stale = pusher.contact_points()
    pusher.policies()
    pusher.delete_contact_points(stale)
    pusher.rule_group()
    return report
