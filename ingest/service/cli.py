"""The ``hallkpi serve`` command: options, the ``[service]`` config section, start-up."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hallkpi.core.config import EngineConfig, load_config
from hallkpi.core.engine import Engine
from hallkpi.core.errors import CommandError, ConfigError, HallkpiError
from hallkpi.core.secrets import read_secret_file
from hallkpi.ingest.service.app import ServeOptions, Service
from hallkpi.ingest.service.logic import DAY_MS, Admission, HallFilter
from hallkpi.ingest.service.mqtt_url import mqtt_password, parse_mqtt_url, tls_context
from hallkpi.ingest.service.topics import Topics
from hallkpi.ingest.store.cli_options import add_store_options, store_from_args

_SERVICE_KEYS = {
    "mqtt",
    "client_id",
    "prefix",
    "http",
    "spool",
    "kpi_interval_s",
    "tls_ca",
    "tls_cert",
    "tls_key",
    "max_payload_bytes",
    "max_clock_lead_s",
    "max_event_age_days",
    "max_halls",
    "http_token_file",
    "mqtt_password_file",
    "reconnect_max_s",
}
MAX_EVENT_AGE_DAYS = 92  # about 3 months: a store block spans at most 4 monthly partitions

log = logging.getLogger("hallkpi.ingest.service")


def _service_section(config: EngineConfig) -> dict[str, Any]:
    section = dict(config.raw.get("service", {}))
    unknown = set(section) - _SERVICE_KEYS
    if unknown:
        raise ConfigError(
            f"unknown keys in [service]: {sorted(unknown)} (known: {sorted(_SERVICE_KEYS)})"
        )
    return section


def _http(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    m = re.fullmatch(r"(.+):(\d+)", value)
    if not m:
        raise ConfigError(f"--http wants HOST:PORT, got {value!r}")
    return m.group(1), int(m.group(2))


def _halls(args: argparse.Namespace) -> HallFilter:
    if args.halls and args.shard:
        raise ConfigError("give --halls or --shard, not both")
    if args.halls:
        return HallFilter(halls=frozenset(h for h in args.halls.split(",") if h))
    if args.shard:
        m = re.fullmatch(r"(\d+)/(\d+)", args.shard)
        if not m or not 0 <= int(m.group(1)) < int(m.group(2)):
            raise ConfigError(
                f"--shard wants INDEX/COUNT with 0 <= INDEX < COUNT, got {args.shard!r}"
            )
        return HallFilter(shard=(int(m.group(1)), int(m.group(2))))
    return HallFilter()


def _admission(
    args: argparse.Namespace, section: dict[str, Any], config: EngineConfig
) -> Admission:
    d = Admission()
    lead_s = args.max_clock_lead_s
    lead_s = float(section.get("max_clock_lead_s", 300) if lead_s is None else lead_s)
    age_days = args.max_event_age_days
    age_days = float(section.get("max_event_age_days", 35) if age_days is None else age_days)
    if lead_s < 0:
        raise ConfigError("max_clock_lead_s must be >= 0 seconds")
    if not 2 <= age_days <= MAX_EVENT_AGE_DAYS:
        raise ConfigError(
            f"max_event_age_days must be 2..{MAX_EVENT_AGE_DAYS} days (longer than recovery "
            "looks back, short enough that a store block spans few monthly partitions)"
        )
    max_halls = int(args.max_halls or section.get("max_halls", d.max_halls))
    if max_halls < 1:
        raise ConfigError("max_halls must be >= 1")
    known = set(config.halls)
    if args.halls:
        known |= {h for h in args.halls.split(",") if h}
    return Admission(
        max_lead_ms=int(lead_s * 1000),
        max_age_ms=int(age_days * DAY_MS),
        known=frozenset(known) if known else None,
        max_halls=max_halls,
    )


def _password(args: argparse.Namespace, section: dict[str, Any]) -> Any:
    """The broker password as a function: the file is read again at every attempt."""
    path = args.mqtt_password_file or section.get("mqtt_password_file")
    mqtt_password(path)  # read once now: a missing or open file fails at start

    def read() -> str | None:
        return mqtt_password(path)

    return read


def build(args: argparse.Namespace) -> tuple[Engine, ServeOptions]:
    config = load_config(args.config) if args.config else EngineConfig()
    section = _service_section(config)
    mqtt = args.mqtt or section.get("mqtt") or os.environ.get("HALLKPI_MQTT")
    if not mqtt:
        raise ConfigError(
            "no broker: give --mqtt mqtt://host:1883 (or [service] mqtt, $HALLKPI_MQTT)"
        )
    client_id = args.client_id or section.get("client_id")
    if not client_id:
        raise ConfigError("give --client-id: a stable id keeps the broker session across restarts")
    url = parse_mqtt_url(mqtt)
    tls = None
    if url.tls:
        tls = tls_context(section.get("tls_ca"), section.get("tls_cert"), section.get("tls_key"))
    store = store_from_args(args)
    admission = _admission(args, section, config)
    token_file = args.http_token_file or section.get("http_token_file")
    spool = args.spool or section.get("spool")
    if not spool:
        spool = (
            str(Path(store.url.path) / "spool" / client_id)
            if store.url.scheme == "chdb" and store.url.path
            else f"hallkpi-spool-{client_id}"
        )
    options = ServeOptions(
        mqtt=url,
        client_id=client_id,
        store=store,
        spool_dir=Path(spool),
        mqtt_password=_password(args, section),
        tls=tls,
        topics=Topics(section.get("prefix", "hallkpi/v1")),
        halls=_halls(args),
        admission=admission,
        http=_http(args.http or section.get("http")),
        http_token=read_secret_file(token_file, "HTTP token") if token_file else None,
        reconnect_max_s=float(section.get("reconnect_max_s", 15)),
        kpi_interval_s=float(args.kpi_interval_s or section.get("kpi_interval_s", 10)),
        max_payload_bytes=int(section.get("max_payload_bytes", config.max_payload_bytes)),
        wall_clock=not args.event_clock,
        config=config.raw,
    )
    options.calls = _call_source(args, config)
    kwargs = config.engine_kwargs()
    if options.wall_clock:
        kwargs.update(max_lead_ms=admission.max_lead_ms, max_age_ms=admission.max_age_ms)
    return Engine(**kwargs), options


def _call_source(args: argparse.Namespace, config: EngineConfig) -> Any:
    """A factory of the Asterisk call-event source, when --ami or [telephony] servers."""
    if not args.ami and not config.raw.get("telephony", {}).get("servers"):
        return None
    from hallkpi.telephony import AmiServer, CallEventSource, TelephonyConfig, read_secret

    tconf = TelephonyConfig.from_mapping(config.raw, source=args.config or "configuration")
    servers = list(tconf.servers)
    servers += [AmiServer.from_url(u, secret=read_secret(args.ami_secret_file)) for u in args.ami]

    def source() -> CallEventSource:
        return CallEventSource(
            servers,
            queues=tconf.queues,
            translate=tconf.translate,
            client=tconf.client,
            on_gap=lambda gap: log.warning("AMI gap: %s", gap),
        )

    return source


def run_service(
    engine: Engine, options: ServeOptions, *, on_ready: Callable[[Service], None] | None = None
) -> None:
    """Runs a service until SIGINT or SIGTERM, on uvloop when available."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        service = Service(engine, options)
        if on_ready is not None:
            waiter = asyncio.create_task(service.ready.wait())
            waiter.add_done_callback(lambda _: on_ready(service))
        await service.run(stop)

    try:
        import uvloop
    except ImportError:  # only uvloop's absence falls back; errors inside the service do not
        asyncio.run(main())
    else:
        uvloop.run(main())


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if not args.quiet else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("gmqtt").setLevel(logging.WARNING)  # its INFO logs every packet
    try:
        engine, options = build(args)
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc
    log.info(
        "serving %s as %s, store %s", options.mqtt, options.client_id, options.store.url.redacted()
    )
    try:
        run_service(engine, options)
    except HallkpiError as exc:  # e.g. a store configuration that waiting cannot mend
        raise CommandError(str(exc)) from exc
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        help="the service: MQTT in and out, KPIs live, store behind",
        description="Subscribes hall and call events over MQTT (QoS 1, persistent session), "
        "computes KPIs live, publishes retained hall status and alerts, writes events, KPI "
        "rows and alerts to the store, and acknowledges each message only once stored.",
    )
    p.add_argument("--mqtt", metavar="URL", help="broker: mqtt://[user@]host:1883 or mqtts://")
    p.add_argument(
        "--mqtt-password-file", metavar="FILE", help="broker password (else $HALLKPI_MQTT_PASSWORD)"
    )
    p.add_argument("--client-id", metavar="ID", help="stable MQTT client id of this worker")
    p.add_argument("--config", metavar="FILE", help="TOML: [engine], [halls], [alerts], [service]")
    p.add_argument("--halls", metavar="A,B", help="serve only these halls")
    p.add_argument("--shard", metavar="I/N", help="serve the halls of hash shard I of N")
    p.add_argument("--http", metavar="HOST:PORT", help="serve /metrics, /healthz, /halls/H/status")
    p.add_argument("--spool", metavar="DIR", help="local spool for when the store is down")
    p.add_argument(
        "--kpi-interval-s", type=float, metavar="S", help="KPI rows every S seconds (10)"
    )
    p.add_argument(
        "--event-clock",
        action="store_true",
        help="advance the clock only with events, not the wall clock (tests, replays)",
    )
    p.add_argument(
        "--ami",
        metavar="URL",
        action="append",
        default=[],
        help="also take call events from Asterisk: ami://user@host:5038 (repeatable)",
    )
    p.add_argument(
        "--ami-secret-file", metavar="FILE", help="AMI secret (else $HALLKPI_AMI_SECRET)"
    )
    p.add_argument(
        "--max-clock-lead-s",
        type=float,
        metavar="S",
        help="refuse events more than S seconds ahead of the wall clock (300)",
    )
    p.add_argument(
        "--max-event-age-days",
        type=float,
        metavar="D",
        help=f"refuse events older than D days (35; at most {MAX_EVENT_AGE_DAYS})",
    )
    p.add_argument(
        "--max-halls",
        type=int,
        metavar="N",
        help="without configured halls, serve at most N distinct halls (1000)",
    )
    p.add_argument(
        "--http-token-file",
        metavar="FILE",
        help="bearer token wanted by /snapshot, /metrics and /gaps (a chmod 600 file)",
    )
    p.add_argument("--quiet", action="store_true", help="log warnings only")
    add_store_options(p)
    p.set_defaults(func=run)
