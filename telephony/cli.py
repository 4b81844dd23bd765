"""``hallkpi ami``: translate a recorded AMI stream, or tap a live server.

``hallkpi ami translate CAPTURE`` turns a raw AMI byte stream (what a manager
connection received) into EVENTS.md JSON lines for ``hallkpi replay``;
``hallkpi ami tap ami://user@host:5038`` prints a live server's translated events.
Registered through the ``hallkpi.commands`` entry point group.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
from collections.abc import Iterator
from typing import IO, Any

from hallkpi.core.errors import CommandError
from hallkpi.telephony.client import AmiClient
from hallkpi.telephony.config import AmiServer, TelephonyConfig, read_secret
from hallkpi.telephony.errors import AmiError, TelephonyConfigError
from hallkpi.telephony.mapping import QueueMap, Unmapped
from hallkpi.telephony.records import Event
from hallkpi.telephony.source import CallEventSource, ServerStatus
from hallkpi.telephony.translate import CallTranslator, translate_with

CHUNK = 1 << 20


def register(subparsers: Any) -> None:
    """Adds ``ami translate`` and ``ami tap`` (the ``hallkpi.commands`` hook)."""
    parser = subparsers.add_parser(
        "ami",
        help="Asterisk AMI: translate a capture, tap a live server",
        description="Asterisk manager interface (AMI) to EVENTS.md call events.",
    )
    sub = parser.add_subparsers(dest="ami_command", metavar="ACTION")
    sub.required = True
    translate = sub.add_parser(
        "translate",
        help="a recorded raw AMI byte stream -> EVENTS.md JSON lines",
        description="Translates a raw AMI byte stream (banner optional, CRLF or LF) into "
        "EVENTS.md JSON lines, e.g. for `hallkpi replay`. A summary goes to stderr.",
    )
    translate.add_argument("capture", help="the capture file (- for stdin)")
    translate.add_argument("--out", "-o", default="-", help="output file (default stdout)")
    _translation_options(translate)
    translate.set_defaults(func=_translate)
    tap = sub.add_parser(
        "tap",
        help="print a live server's translated events",
        description="Connects to Asterisk servers (reconnecting for ever) and prints their "
        "translated events as JSON lines. The secret comes from HALLKPI_AMI_SECRET or "
        "--secret-file; it is never printed.",
    )
    tap.add_argument("urls", nargs="+", metavar="URL", help="ami://user@host:5038 or amis://")
    tap.add_argument("--secret-file", help="file whose first line is the AMI secret")
    tap.add_argument("--cafile", help="TLS: CA certificates to trust (amis://)")
    tap.add_argument("--insecure", action="store_true", help="TLS: do not verify (tests)")
    tap.add_argument("--ping-interval", type=float, help="watchdog interval, seconds")
    tap.add_argument("--raw", action="store_true", help="print AMI messages, not events")
    _translation_options(tap)
    tap.set_defaults(func=_tap)


def _translation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML file; its [telephony] section is read")
    parser.add_argument("--hall-map", help="queue=hall,... (added to the configured map)")
    parser.add_argument("--unmapped", choices=("skip", "default", "queue"))
    parser.add_argument("--default-hall", help="hall of unmapped queues (--unmapped default)")
    parser.add_argument("--survey-event", help="UserEvent name of the survey (PostCallSurvey)")
    parser.add_argument("--score-header", help="header with the 1..5 score (Score)")
    parser.add_argument("--agent-key", choices=("interface", "name"))
    parser.add_argument("--hold-from", choices=("timestamps", "holdtime"))


def config_from_args(args: argparse.Namespace, *, secrets: bool) -> TelephonyConfig:
    """The ``[telephony]`` configuration with the command-line options applied."""
    try:
        config = (
            TelephonyConfig.load(args.config, secrets=secrets) if args.config else TelephonyConfig()
        )
        queues = config.queues
        if args.unmapped or args.default_hall:
            unmapped: Unmapped = args.unmapped or "default"
            hall = args.default_hall or queues.default_hall
            queues = QueueMap(queues.queues, unmapped, hall)
        if args.hall_map:
            queues = queues.merged(QueueMap.parse_pairs(args.hall_map))
        changes = {
            name: getattr(args, name)
            for name in ("survey_event", "score_header", "agent_key", "hold_from")
            if getattr(args, name)
        }
        translate = dataclasses.replace(config.translate, **changes)
    except (TelephonyConfigError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    return dataclasses.replace(config, queues=queues, translate=translate)


def _dump(event: Event) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while block := stream.read(CHUNK):
        yield block


def _translate(args: argparse.Namespace) -> int:
    config = config_from_args(args, secrets=False)
    translator = CallTranslator(config.queues, config.translate)
    try:
        src = sys.stdin.buffer if args.capture == "-" else open(args.capture, "rb")  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot read {args.capture}: {exc.strerror}") from None
    try:
        dst = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        src.close()
        raise CommandError(f"cannot write {args.out}: {exc.strerror}") from None
    try:
        for event in translate_with(translator, _chunks(src)):
            dst.write(_dump(event) + "\n")
    except AmiError as exc:
        raise CommandError(f"{args.capture}: {exc}") from None
    finally:
        if src is not sys.stdin.buffer:
            src.close()
        if dst is not sys.stdout:
            dst.close()
        else:
            dst.flush()
    print(f"hallkpi ami translate: {translator.stats.summary()}", file=sys.stderr)
    if translator.stats.unmapped and not config.queues.queues:
        print("  hint: map queues to halls with --hall-map queue=hall,...", file=sys.stderr)
    for report in translator.drain_gaps():
        if report.hidden:
            print(f"  gap: {report}", file=sys.stderr)
    return 0


def _servers(args: argparse.Namespace) -> list[AmiServer]:
    try:
        secret = read_secret(args.secret_file)
        return [
            AmiServer.from_url(url, secret=secret, cafile=args.cafile, verify=not args.insecure)
            for url in args.urls
        ]
    except TelephonyConfigError as exc:
        raise CommandError(str(exc)) from None


def _tap(args: argparse.Namespace) -> int:
    config = config_from_args(args, secrets=False)
    servers = _servers(args)
    logging.basicConfig(level=logging.WARNING, format="# %(message)s", stream=sys.stderr)
    client = config.client
    if args.ping_interval:
        client = dataclasses.replace(client, ping_interval_s=args.ping_interval)
    try:
        if args.raw:
            asyncio.run(_tap_raw(servers[0], dataclasses.replace(config, client=client)))
        else:
            config = dataclasses.replace(config, client=client, servers=tuple(servers))
            asyncio.run(_tap_events(config))
    except AmiError as exc:
        raise CommandError(str(exc)) from None
    return 0


def _say(status: ServerStatus, what: str) -> None:
    if what in ("connected", "resynced"):  # losses and gaps come as log warnings
        print(f"# {status.label}: {what}", file=sys.stderr, flush=True)


async def _tap_events(config: TelephonyConfig) -> None:
    async with CallEventSource.from_config(config, on_state=_say) as source:
        async for event in source:
            print(_dump(event), flush=True)


async def _tap_raw(server: AmiServer, config: TelephonyConfig) -> None:
    async with AmiClient(server, config.client) as ami:
        print(f"# {ami.banner}", file=sys.stderr, flush=True)
        async for msg in ami:
            sys.stdout.write(msg.to_bytes().decode("utf-8").replace("\r\n", "\n"))
            sys.stdout.flush()
