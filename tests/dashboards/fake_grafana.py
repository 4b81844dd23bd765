"""A recording stand-in for Grafana's HTTP API on loopback (no Grafana server can be
installed here). It keeps the objects hallkpi provisions in memory, answers as Grafana
does for the calls grafana-client makes (404 for a missing object, ids and versions
added, secure settings masked as ``[REDACTED]``), records every request, and checks
what Grafana would check: the Bearer token, provenance consistency (an object written
with ``X-Disable-Provenance`` cannot later be written without it, and back), that the
folder, data source and receivers a write names exist."""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECURE = {
    "dingding": {"url"},
    "wecom": {"url", "secret"},
    "webhook": {"password", "authorization_credentials"},
}
ALERTING = "/api/v1/provisioning/"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class State:
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    contact_points: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, Any] = field(
        default_factory=lambda: {
            "receiver": "grafana-default-email",
            "group_by": ["grafana_folder", "alertname"],
        }
    )
    rule_groups: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)


class FakeGrafana:
    """``with FakeGrafana(token) as g: push(..., url=g.url, token=token)``."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.state = State()
        self.requests: list[Request] = []
        self.unexpected: list[str] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                req = Request(self.command, self.path, dict(self.headers.items()), body)
                with fake._lock:
                    fake.requests.append(req)
                    try:
                        status, answer = fake.dispatch(req)
                    except ApiError as exc:
                        status, answer = exc.status, {"message": str(exc)}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    # --- the API -------------------------------------------------------------------------

    def dispatch(self, req: Request) -> tuple[int, Any]:
        if req.headers.get("Authorization") != f"Bearer {self.token}":
            raise ApiError(401, "Unauthorized")
        path = req.path.split("?")[0]
        if path.startswith(ALERTING) and req.method in ("POST", "PUT"):
            self._provenance(path, req)
        for pattern, handler in self._routes():
            m = re.fullmatch(pattern, f"{req.method} {path}")
            if m:
                return handler(req, *m.groups())
        self.unexpected.append(f"{req.method} {req.path}")
        raise ApiError(404, "Not found")

    def _routes(self) -> list[tuple[str, Any]]:
        return [
            (r"GET /api/datasources/uid/([^/]+)", self.get_datasource),
            (r"POST /api/datasources", self.create_datasource),
            (r"PUT /api/datasources/uid/([^/]+)", self.update_datasource),
            (r"GET /api/folders/([^/]+)", self.get_folder),
            (r"POST /api/folders", self.create_folder),
            (r"PUT /api/folders/([^/]+)", self.update_folder),
            (r"GET /api/dashboards/uid/([^/]+)", self.get_dashboard),
            (r"POST /api/dashboards/db", self.save_dashboard),
            (r"GET /api/v1/provisioning/templates/([^/]+)", self.get_template),
            (r"PUT /api/v1/provisioning/templates/([^/]+)", self.put_template),
            (r"GET /api/v1/provisioning/contact-points", self.list_contact_points),
            (r"POST /api/v1/provisioning/contact-points", self.create_contact_point),
            (r"PUT /api/v1/provisioning/contact-points/([^/]+)", self.update_contact_point),
            (r"DELETE /api/v1/provisioning/contact-points/([^/]+)", self.delete_contact_point),
            (r"GET /api/v1/provisioning/policies", self.get_policies),
            (r"PUT /api/v1/provisioning/policies", self.put_policies),
            (r"GET /api/v1/provisioning/folder/([^/]+)/rule-groups/([^/]+)", self.get_group),
            (r"PUT /api/v1/provisioning/folder/([^/]+)/rule-groups/([^/]+)", self.put_group),
        ]

    def _provenance(self, path: str, req: Request) -> None:
        """Grafana refuses to change an object's provenance: the header must be constant."""
        given = "" if req.headers.get("X-Disable-Provenance") == "true" else "api"
        key = path if "contact-points" not in path else "contact-points"
        key = re.sub(r"/contact-points/.*", "", key)
        had = self.state.provenance.setdefault(key, given)
        if had != given:
            raise ApiError(409, f"cannot change provenance from {had!r} to {given!r}")

    def get_datasource(self, req: Request, uid: str) -> tuple[int, Any]:
        ds = self.state.datasources.get(uid)
        if ds is None:
            raise ApiError(404, "Data source not found")
        out = copy.deepcopy(ds)
        out["secureJsonFields"] = {"password": True} if uid in self.state.passwords else {}
        return 200, out

    def _store_datasource(self, body: dict[str, Any], uid: str, ident: int) -> None:
        body = copy.deepcopy(body)
        secure = body.pop("secureJsonData", None) or {}
        if "password" in secure:
            self.state.passwords[uid] = secure["password"]
        self.state.datasources[uid] = {**body, "id": ident, "orgId": 1, "version": 1}

    def create_datasource(self, req: Request) -> tuple[int, Any]:
        uid = req.body["uid"]
        if uid in self.state.datasources:
            raise ApiError(409, "data source with the same uid already exists")
        self._store_datasource(req.body, uid, len(self.state.datasources) + 1)
        return 200, {"id": 1, "message": "Datasource added", "name": req.body["name"]}

    def update_datasource(self, req: Request, uid: str) -> tuple[int, Any]:
        if uid not in self.state.datasources:
            raise ApiError(404, "Data source not found")
        self._store_datasource(req.body, uid, self.state.datasources[uid]["id"])
        return 200, {"message": "Datasource updated"}

    def get_folder(self, req: Request, uid: str) -> tuple[int, Any]:
        if uid not in self.state.folders:
            raise ApiError(404, "folder not found")
        return 200, self.state.folders[uid]

    def create_folder(self, req: Request) -> tuple[int, Any]:
        uid = req.body["uid"]
        self.state.folders[uid] = {"uid": uid, "title": req.body["title"], "version": 1, "id": 7}
        return 200, self.state.folders[uid]

    def update_folder(self, req: Request, uid: str) -> tuple[int, Any]:
        folder = self.state.folders[uid]
        assert req.body.get("overwrite") or req.body.get("version") == folder["version"]
        folder.update(title=req.body["title"], version=folder["version"] + 1)
        return 200, folder

    def get_dashboard(self, req: Request, uid: str) -> tuple[int, Any]:
        if uid not in self.state.dashboards:
            raise ApiError(404, "Dashboard not found")
        return 200, self.state.dashboards[uid]

    def save_dashboard(self, req: Request) -> tuple[int, Any]:
        body = req.body
        if body.get("overwrite") is not True:
            raise ApiError(412, "overwrite is not true")
        if body.get("folderUid") not in self.state.folders:
            raise ApiError(400, "folder not found")
        model = copy.deepcopy(body["dashboard"])
        uid = model["uid"]
        old = self.state.dashboards.get(uid)
        model["id"] = old["dashboard"]["id"] if old else len(self.state.dashboards) + 1
        model["version"] = old["dashboard"]["version"] + 1 if old else 1
        meta = {"folderUid": body["folderUid"], "slug": uid, "provisioned": False}
        self.state.dashboards[uid] = {"dashboard": model, "meta": meta}
        return 200, {"status": "success", "uid": uid, "version": model["version"]}

    def get_template(self, req: Request, name: str) -> tuple[int, Any]:
        if name not in self.state.templates:
            raise ApiError(404, "template not found")
        return 200, self.state.templates[name]

    def put_template(self, req: Request, name: str) -> tuple[int, Any]:
        old = self.state.templates.get(name)
        if old is not None and req.body.get("version") not in ("", old["version"]):
            raise ApiError(409, "version conflict")
        version = str(int(old["version"]) + 1) if old else "1"
        self.state.templates[name] = {
            "name": name,
            "template": req.body["template"],
            "version": version,
        }
        return 202, self.state.templates[name]

    def list_contact_points(self, req: Request) -> tuple[int, Any]:
        out = []
        for cp in self.state.contact_points.values():
            shown = copy.deepcopy(cp)
            for key in SECURE.get(cp["type"], ()):
                if key in shown["settings"]:
                    shown["settings"][key] = "[REDACTED]"
            out.append(shown)
        return 200, out

    def create_contact_point(self, req: Request) -> tuple[int, Any]:
        uid = req.body["uid"]
        if uid in self.state.contact_points:
            raise ApiError(400, "contact point uid exists")
        self.state.contact_points[uid] = copy.deepcopy(req.body)
        return 202, req.body

    def update_contact_point(self, req: Request, uid: str) -> tuple[int, Any]:
        if uid not in self.state.contact_points:
            raise ApiError(404, "contact point not found")
        self.state.contact_points[uid] = copy.deepcopy(req.body)
        return 202, {"message": "contactpoint updated"}

    def delete_contact_point(self, req: Request, uid: str) -> tuple[int, Any]:
        names = _receivers(self.state.policies)
        if self.state.contact_points.get(uid, {}).get("name") in names:
            raise ApiError(400, "contact point is used by a notification policy")
        self.state.contact_points.pop(uid, None)
        return 202, {"message": "contactpoint deleted"}

    def get_policies(self, req: Request) -> tuple[int, Any]:
        return 200, self.state.policies

    def put_policies(self, req: Request) -> tuple[int, Any]:
        known = {cp["name"] for cp in self.state.contact_points.values()}
        missing = _receivers(req.body) - known - {"grafana-default-email"}
        if missing:
            raise ApiError(400, f"receivers do not exist: {sorted(missing)}")
        self.state.policies = copy.deepcopy(req.body)
        return 202, {"message": "policies updated"}

    def get_group(self, req: Request, folder: str, group: str) -> tuple[int, Any]:
        if (folder, group) not in self.state.rule_groups:
            raise ApiError(404, "rule group does not exist")
        return 200, self.state.rule_groups[(folder, group)]

    def put_group(self, req: Request, folder: str, group: str) -> tuple[int, Any]:
        if folder not in self.state.folders:
            raise ApiError(400, "folder does not exist")
        stored = copy.deepcopy(req.body)
        for i, rule in enumerate(stored["rules"]):
            for q in rule["data"]:
                uid = q["datasourceUid"]
                if uid != "__expr__" and uid not in self.state.datasources:
                    raise ApiError(400, f"data source {uid} does not exist")
            rule.update(id=i + 1, updated="2026-11-27T08:00:00Z", provenance="")
        self.state.rule_groups[(folder, group)] = stored
        return 200, stored


def _receivers(route: dict[str, Any]) -> set[str]:
    out = {route["receiver"]} if route.get("receiver") else set()
    for child in route.get("routes") or []:
        out |= _receivers(child)
    return out
