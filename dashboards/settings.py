"""``GrafanaSettings``: the ``[grafana]`` section of the configuration file, plus what the
dashboards take from the engine sections (alert rules, time zone, halls).

::

    [grafana]
    url = "http://localhost:3000"     # Grafana, for push and for the kiosk URLs
    public_url = "http://wall:3000"   # base of the printed kiosk URLs (default: url)
    folder = "hallkpi"                # folder title (its uid is always "hallkpi")
    refresh = "10s"                   # wall-screen refresh
    evaluate_every_s = 10             # alert rule group interval, seconds
    dashboards_path = "/etc/grafana/provisioning/dashboards/hallkpi"  # in the container

    [grafana.clickhouse]              # what Grafana's ClickHouse plugin connects to
    url = "http://grafana@clickhouse:8123/hallkpi"   # user@host:port/database, no password
    password_env = "HALLKPI_CLICKHOUSE_PASSWORD"    # the password's environment variable

    [grafana.severity]                # per engine rule: critical, warning or info
    wait_timeout = "critical"

    [grafana.contact_points.duty]     # one table per contact point
    type = "dingding"                 # webhook, email, dingding or wecom
    url = "$HALLKPI_DINGTALK_URL"     # secrets only as $ENV references
    severities = ["critical"]         # default: all
    halls = ["yuhua"]                 # default: every hall
    default = true                    # receiver of whatever no route takes

Secrets (DingTalk and WeCom robot URLs, WeCom app secret, webhook credentials) must be
``$NAME`` references: export writes them as they are (Grafana substitutes them when it
reads the files), push substitutes them from its own environment.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import unquote, urlsplit

from hallkpi.core.config import AlertRule, EngineConfig, config_from_mapping
from hallkpi.core.errors import ConfigError
from hallkpi.core.horizons import horizon_name
from hallkpi.core.staff_score import STAFF_WEIGHTS, staff_weights
from hallkpi.core.timezone import DEFAULT_TIMEZONE
from hallkpi.dashboards.errors import GrafanaConfigError

Severity = Literal["critical", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")
ContactType = Literal["webhook", "email", "dingding", "wecom"]
CONTACT_TYPES: tuple[ContactType, ...] = ("webhook", "email", "dingding", "wecom")

DASHBOARDS_PATH = "/etc/grafana/provisioning/dashboards/hallkpi"
"""Where the dashboard JSON files are inside the Grafana container (the provider's path)."""
DEFAULT_SEVERITY: dict[str, Severity] = {
    "wait_timeout": "critical",
    "congestion": "critical",
    "call_queue": "critical",
    "low_answer_rate": "warning",
    "dissatisfaction": "warning",
    "opinion_overdue": "info",
}
"""Severity of the KPIS.md rules; a configured new rule is a warning unless set."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_REF = re.compile(r"\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")
_COMMON_KEYS = {"type", "severities", "halls", "default", "disable_resolve_message"}
# config key -> (Grafana settings key, kind); kind "secret" must be a $ENV reference
_TYPE_KEYS: dict[str, dict[str, tuple[str, str]]] = {
    "webhook": {
        "url": ("url", "text"),
        "http_method": ("httpMethod", "text"),
        "username": ("username", "text"),
        "password": ("password", "secret"),
        "authorization_scheme": ("authorization_scheme", "text"),
        "authorization_credentials": ("authorization_credentials", "secret"),
        "max_alerts": ("maxAlerts", "int"),
    },
    "email": {
        "addresses": ("addresses", "list"),
        "single_email": ("singleEmail", "bool"),
    },
    "dingding": {
        "url": ("url", "secret"),
        "msg_type": ("msgType", "text"),
    },
    "wecom": {
        "url": ("url", "secret"),
        "corp_id": ("corp_id", "text"),
        "agent_id": ("agent_id", "text"),
        "secret": ("secret", "secret"),
        "to_user": ("touser", "text"),
        "msgtype": ("msgtype", "text"),
    },
}
_REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "webhook": (("url",),),
    "email": (("addresses",),),
    "dingding": (("url",),),
    "wecom": (("url",), ("corp_id", "agent_id", "secret")),
}


def is_env_reference(value: str) -> bool:
    """True for ``$NAME`` or ``${NAME}`` (the whole value)."""
    return _ENV_REF.fullmatch(value) is not None


def env_name(value: str) -> str:
    """The variable of an environment reference ``$NAME``/``${NAME}``."""
    return value.lstrip("$").strip("{}")


@dataclass(frozen=True)
class ContactPointSpec:
    """One contact point: ``settings`` are Grafana's keys (secrets as ``$NAME``);
    ``severities`` and ``halls`` choose what the policy tree routes to it (empty
    ``halls`` = every hall)."""

    name: str
    type: ContactType
    settings: Mapping[str, Any]
    severities: tuple[Severity, ...] = SEVERITIES
    halls: tuple[str, ...] = ()
    default: bool = False
    disable_resolve_message: bool = False

    @property
    def uid(self) -> str:
        return f"hallkpi-cp-{self.name}"[:40]


@dataclass(frozen=True)
class ClickHouseTarget:
    """Where Grafana's ClickHouse plugin connects (HTTP interface); no password."""

    host: str = "localhost"
    port: int = 8123
    secure: bool = False
    username: str = "default"
    database: str = "hallkpi"
    path: str = ""
    password_env: str = "HALLKPI_CLICKHOUSE_PASSWORD"

    @classmethod
    def parse(cls, url: str, password_env: str) -> ClickHouseTarget:
        """``http(s)://user@host:port/database``; a password in the URL is refused."""
        parts = urlsplit(url)
        where = "grafana.clickhouse.url"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise GrafanaConfigError(f"{where}: use http(s)://user@host:8123/database")
        if parts.password is not None:
            raise GrafanaConfigError(
                f"{where}: no password in the URL; set ${password_env} instead"
            )
        database = unquote(parts.path.strip("/")) or "hallkpi"
        if not _IDENT.fullmatch(database):
            raise GrafanaConfigError(f"{where}: database {database!r} is not a plain name")
        secure = parts.scheme == "https"
        return cls(
            host=parts.hostname,
            port=parts.port or (8443 if secure else 8123),
            secure=secure,
            username=unquote(parts.username or "default"),
            database=database,
            password_env=password_env,
        )


@dataclass(frozen=True)
class GrafanaSettings:
    """Everything the Grafana content is built from (see the module doc)."""

    rules: tuple[AlertRule, ...]
    timezone: str = DEFAULT_TIMEZONE
    halls: tuple[str, ...] = ()
    url: str = "http://localhost:3000"
    public_url: str | None = None
    folder: str = "hallkpi"
    refresh: str = "10s"
    evaluate_every_s: int = 10
    dashboards_path: str = DASHBOARDS_PATH
    clickhouse: ClickHouseTarget = field(default_factory=ClickHouseTarget)
    severity: Mapping[str, Severity] = field(default_factory=dict)
    contact_points: tuple[ContactPointSpec, ...] = ()
    staff_weights: Mapping[str, float] = field(default_factory=lambda: dict(STAFF_WEIGHTS))
    horizons: tuple[str, ...] = (*(horizon_name(h) for h in EngineConfig().horizons_s), "today")

    def severity_of(self, rule: str) -> Severity:
        return self.severity.get(rule, DEFAULT_SEVERITY.get(rule, "warning"))

    @property
    def kiosk_base(self) -> str:
        return (self.public_url or self.url).rstrip("/")

    @classmethod
    def defaults(cls) -> GrafanaSettings:
        """The settings of an empty configuration (KPIS.md rules, no contact points)."""
        return cls.from_config(config_from_mapping({}))

    @classmethod
    def load(cls, path: str | Path) -> GrafanaSettings:
        """Reads a TOML configuration file (engine sections and ``[grafana]``)."""
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise GrafanaConfigError(f"cannot read configuration {p}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise GrafanaConfigError(f"{p}: invalid TOML: {exc}") from exc
        try:
            engine = config_from_mapping(doc, source=str(p))
        except ConfigError as exc:
            raise GrafanaConfigError(str(exc)) from exc
        return cls.from_config(engine)

    @classmethod
    def from_config(cls, config: EngineConfig) -> GrafanaSettings:
        """Settings from a loaded engine configuration (its ``raw`` document)."""
        doc = config.raw
        section = _table(doc.get("grafana", {}), "[grafana]")
        known = {
            "url",
            "public_url",
            "folder",
            "refresh",
            "evaluate_every_s",
            "dashboards_path",
            "clickhouse",
            "severity",
            "contact_points",
        }
        _no_unknown(section, known, "[grafana]")
        ch = _table(section.get("clickhouse", {}), "[grafana.clickhouse]")
        _no_unknown(ch, {"url", "password_env"}, "[grafana.clickhouse]")
        password_env = _text(ch.get("password_env", "HALLKPI_CLICKHOUSE_PASSWORD"), "password_env")
        target = ClickHouseTarget.parse(
            _text(ch.get("url", "http://default@localhost:8123/hallkpi"), "url"), password_env
        )
        rules = tuple(config.alert_rules or ())
        severity = _severities(section.get("severity", {}), {r.name for r in rules})
        points = tuple(
            _contact_point(name, _table(t, f"[grafana.contact_points.{name}]"))
            for name, t in _table(section.get("contact_points", {}), "contact_points").items()
        )
        if sum(p.default for p in points) > 1:
            raise GrafanaConfigError("only one contact point may have default = true")
        every = section.get("evaluate_every_s", 10)
        if isinstance(every, bool) or not isinstance(every, int) or not 10 <= every <= 3600:
            raise GrafanaConfigError("grafana.evaluate_every_s: whole seconds, 10 to 3600")
        horizons = (*(horizon_name(h) for h in config.horizons_s), "today")
        return cls(
            rules=rules,
            timezone=config.timezone,
            halls=tuple(config.halls),
            url=_text(section.get("url", "http://localhost:3000"), "grafana.url"),
            public_url=(
                _text(section["public_url"], "grafana.public_url")
                if "public_url" in section
                else None
            ),
            folder=_text(section.get("folder", "hallkpi"), "grafana.folder"),
            refresh=_text(section.get("refresh", "10s"), "grafana.refresh"),
            evaluate_every_s=every,
            dashboards_path=_text(
                section.get("dashboards_path", DASHBOARDS_PATH), "grafana.dashboards_path"
            ),
            clickhouse=target,
            severity=severity,
            contact_points=points,
            staff_weights=_weights(doc.get("report", {})),
            horizons=horizons,
        )


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise GrafanaConfigError(f"{where} must be a table")
    return cast(Mapping[str, Any], value)


def _no_unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(table) - known
    if unknown:
        raise GrafanaConfigError(
            f"{where}: unknown keys {sorted(unknown)} (known: {sorted(known)})"
        )


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise GrafanaConfigError(f"{where} must be a non-empty string")
    return value


def _severity(value: object, where: str) -> Severity:
    for severity in SEVERITIES:
        if value == severity:
            return severity
    raise GrafanaConfigError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")


def _severities(value: object, rules: set[str]) -> dict[str, Severity]:
    out: dict[str, Severity] = {}
    for name, sev in _table(value, "[grafana.severity]").items():
        if name not in rules and name != "data_freshness":
            raise GrafanaConfigError(f"[grafana.severity]: no alert rule named {name!r}")
        out[name] = _severity(sev, f"grafana.severity.{name}")
    return out


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise GrafanaConfigError(f"{where} must be a list of strings")
    return tuple(cast(list[str], value))


def _contact_point(name: str, table: Mapping[str, Any]) -> ContactPointSpec:
    where = f"[grafana.contact_points.{name}]"
    if not _NAME.fullmatch(name):
        raise GrafanaConfigError(f"{where}: name of 1-40 letters, digits, '_', '.', '-'")
    kind = table.get("type")
    if kind not in CONTACT_TYPES:
        raise GrafanaConfigError(f"{where}: type must be one of {', '.join(CONTACT_TYPES)}")
    keys = _TYPE_KEYS[kind]
    _no_unknown(table, _COMMON_KEYS | set(keys), where)
    if not any(all(k in table for k in group) for group in _REQUIRED[kind]):
        need = " or ".join("+".join(g) for g in _REQUIRED[kind])
        raise GrafanaConfigError(f"{where}: a {kind} contact point needs {need}")
    settings: dict[str, Any] = {}
    for key, (grafana_key, how) in keys.items():
        if key not in table:
            continue
        value = table[key]
        if how == "list":
            settings[grafana_key] = ";".join(_strings(value, f"{where} {key}"))
        elif how == "bool":
            if not isinstance(value, bool):
                raise GrafanaConfigError(f"{where} {key} must be true or false")
            settings[grafana_key] = value
        elif how == "int":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise GrafanaConfigError(f"{where} {key} must be a whole number >= 0")
            settings[grafana_key] = value
        else:
            text = _text(value, f"{where} {key}")
            if how == "secret" and not is_env_reference(text):
                raise GrafanaConfigError(
                    f"{where} {key} is a secret: keep it out of files, put it in an "
                    f'environment variable and write {key} = "${_suggest(name, key)}"'
                )
            settings[grafana_key] = text
    severities = tuple(
        _severity(s, f"{where} severities")
        for s in _strings(table.get("severities", list(SEVERITIES)), f"{where} severities")
    )
    default = table.get("default", False)
    quiet = table.get("disable_resolve_message", False)
    if not isinstance(default, bool) or not isinstance(quiet, bool):
        raise GrafanaConfigError(f"{where}: default and disable_resolve_message are true/false")
    return ContactPointSpec(
        name=name,
        type=cast(ContactType, kind),
        settings=settings,
        severities=severities,
        halls=_strings(table.get("halls", []), f"{where} halls") if "halls" in table else (),
        default=default,
        disable_resolve_message=quiet,
    )


def _suggest(name: str, key: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", f"HALLKPI_{name}_{key}".upper())


def _weights(report: object) -> dict[str, float]:
    try:
        return staff_weights(report)
    except ConfigError as exc:
        raise GrafanaConfigError(str(exc)) from exc
