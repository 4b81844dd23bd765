"""AMI servers, client options and the ``[telephony]`` section of the configuration.

::

    [telephony]
    events = "system,call,agent,user"   # Login event mask (what translation needs)
    ping_interval_s = 10                # watchdog: a frozen server is found within 2x this
    survey_event = "PostCallSurvey"     # UserEvent of the post-call survey...
    score_header = "Score"              # ...and its 1..5 header
    agent_key = "interface"             # interface | name
    hold_from = "timestamps"            # timestamps | holdtime
    unmapped = "skip"                   # see hallkpi.telephony.mapping
    default_hall = "city-hotline"

    [telephony.queues]
    "12366-yuhua" = "yuhua"

    [[telephony.servers]]
    url = "ami://kpi@10.0.0.5:5038"     # amis://...:5039 for TLS
    secret_file = "/etc/hallkpi/pbx1.secret"   # else the HALLKPI_AMI_SECRET variable
    name = "pbx1"                       # in logs and gap reports (default host:port)
    id_prefix = ""                      # see TranslateOptions.id_prefix
    cafile = "/etc/hallkpi/pbx-ca.pem"  # TLS: trust this CA (default: system CAs)

Secrets are never part of a URL, a repr or a log line.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hallkpi.core.errors import ConfigError
from hallkpi.core.secrets import parse_server_url, read_secret_file
from hallkpi.telephony.errors import TelephonyConfigError
from hallkpi.telephony.mapping import QueueMap
from hallkpi.telephony.records import TranslateOptions

SECRET_ENV = "HALLKPI_AMI_SECRET"
DEFAULT_EVENTS = "system,call,agent,user"
"""Event classes translation needs: FullyBooted (system), hangups (call), queue and
member events (agent), the survey UserEvent (user). Fewer classes, less traffic."""


@dataclass(frozen=True)
class AmiServer:
    """One Asterisk manager endpoint and its credentials (the secret is not shown in
    ``repr``). ``tls`` uses the system CAs, or ``cafile``; ``verify=False`` turns
    certificate checks off (test servers only)."""

    host: str
    port: int = 5038
    username: str = ""
    secret: str = field(default="", repr=False)
    tls: bool = False
    cafile: str | None = None
    verify: bool = True
    name: str = ""
    id_prefix: str = ""

    def __post_init__(self) -> None:
        if not self.host or not 0 < self.port < 65536:
            raise TelephonyConfigError(f"AMI server {self.host!r}:{self.port} is not valid")

    @property
    def label(self) -> str:
        """``name``, else ``host:port``."""
        return self.name or f"{self.host}:{self.port}"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> AmiServer:
        """``ami://user@host[:5038]`` or ``amis://user@host[:5039]`` (TLS); other
        fields (``secret``, ``name``...) as keywords. A password in the URL is refused:
        it would show in process lists and shell history."""
        try:
            server = parse_server_url(
                url,
                {"ami": (5038, False), "amis": (5039, True)},
                what="AMI",
                password_hint=f"set {SECRET_ENV} or use a secret file",
            )
        except ConfigError as exc:
            raise TelephonyConfigError(str(exc)) from None
        if not server.username:
            raise TelephonyConfigError(f"{url!r}: need a user (ami://user@host:5038)")
        return cls(server.host, server.port, server.username, tls=server.tls, **options)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for this server, or None for plain TCP."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.cafile)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def read_secret(
    secret_file: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> str:
    """The AMI secret: the first line of ``secret_file`` when given, else the
    ``HALLKPI_AMI_SECRET`` environment variable. TelephonyConfigError when neither."""
    if secret_file is not None:
        try:
            return read_secret_file(secret_file, "AMI secret")
        except ConfigError as exc:
            raise TelephonyConfigError(str(exc)) from None
    else:
        secret = (os.environ if env is None else env).get(SECRET_ENV, "")
    if not secret:
        raise TelephonyConfigError(f"no AMI secret: set {SECRET_ENV} or give a secret file")
    return secret


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: ``initial_s * factor**attempt`` up to ``max_s``, each
    multiplied by a random factor in ``[1 - jitter, 1]`` so that many clients that lost
    the same server do not come back in step."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s and self.factor >= 1 and 0 <= self.jitter <= 1):
            raise TelephonyConfigError(
                "backoff: need 0 < initial_s <= max_s, factor >= 1, 0 <= jitter <= 1"
            )

    def delay(self, attempt: int, random: float) -> float:
        """Seconds to wait before reconnect ``attempt`` (0-based); ``random`` in [0, 1)."""
        base = min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))
        return base * (1 - self.jitter * random)


@dataclass(frozen=True)
class ClientOptions:
    """How a client talks to a server. Times in seconds."""

    events: str = DEFAULT_EVENTS
    ping_interval_s: float = 10.0
    timeout_s: float = 10.0
    boot_timeout_s: float = 10.0
    backoff: Backoff = field(default_factory=Backoff)

    def __post_init__(self) -> None:
        if self.ping_interval_s <= 0 or self.timeout_s <= 0 or self.boot_timeout_s < 0:
            raise TelephonyConfigError("ping_interval_s and timeout_s must be > 0 seconds")


@dataclass(frozen=True)
class TelephonyConfig:
    """Everything ``[telephony]`` configures."""

    queues: QueueMap = field(default_factory=QueueMap)
    translate: TranslateOptions = field(default_factory=TranslateOptions)
    client: ClientOptions = field(default_factory=ClientOptions)
    servers: tuple[AmiServer, ...] = ()

    @classmethod
    def from_mapping(
        cls, doc: Mapping[str, Any], *, source: str = "configuration", secrets: bool = True
    ) -> TelephonyConfig:
        """From a parsed TOML document (its ``telephony`` table; absent is empty).
        ``secrets=False`` skips reading the servers' secrets (offline commands)."""
        section = doc.get("telephony", {})
        if not isinstance(section, Mapping):
            raise TelephonyConfigError(f"{source}: [telephony] must be a table")
        known = {f.name for f in dataclasses.fields(TranslateOptions)} | {
            f.name for f in dataclasses.fields(ClientOptions)
        }
        unknown = set(section) - known - {"queues", "unmapped", "default_hall", "servers"}
        if unknown:
            raise TelephonyConfigError(f"{source}: unknown keys in [telephony]: {sorted(unknown)}")
        try:
            translate = TranslateOptions(
                **{k: v for k, v in section.items() if k in TranslateOptions.__dataclass_fields__}
            )
            client = ClientOptions(
                **{k: v for k, v in section.items() if k in ClientOptions.__dataclass_fields__}
            )
        except (TypeError, ValueError) as exc:
            raise TelephonyConfigError(f"{source}: [telephony] {exc}") from None
        servers = tuple(
            _server(table, i, source, secrets) for i, table in enumerate(section.get("servers", []))
        )
        return cls(QueueMap.from_section(section, source=source), translate, client, servers)

    @classmethod
    def load(cls, path: str | Path, *, secrets: bool = True) -> TelephonyConfig:
        """Reads the ``[telephony]`` section of a TOML file."""
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise TelephonyConfigError(
                f"cannot read configuration {path}: {exc.strerror}"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise TelephonyConfigError(f"{path}: invalid TOML: {exc}") from None
        return cls.from_mapping(doc, source=str(path), secrets=secrets)


def _server(table: object, index: int, source: str, secrets: bool) -> AmiServer:
    where = f"{source}: [[telephony.servers]] #{index + 1}"
    if not isinstance(table, Mapping) or not isinstance(table.get("url"), str):
        raise TelephonyConfigError(f"{where} needs url = 'ami://user@host:5038'")
    unknown = set(table) - {"url", "secret_file", "name", "id_prefix", "cafile", "verify"}
    if unknown:
        raise TelephonyConfigError(f"{where}: unknown keys {sorted(unknown)}")
    secret = read_secret(table.get("secret_file")) if secrets else ""
    options = {k: table[k] for k in ("name", "id_prefix", "cafile", "verify") if k in table}
    return AmiServer.from_url(table["url"], secret=secret, **options)
