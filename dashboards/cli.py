"""``hallkpi grafana export DIR`` and ``hallkpi grafana push --url URL``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hallkpi.core.errors import CommandError
from hallkpi.dashboards.errors import GrafanaError

if TYPE_CHECKING:  # imported when a command runs: registering must stay cheap
    from hallkpi.dashboards.content import Content

TOKEN_ENV = "HALLKPI_GRAFANA_TOKEN"


def _content(args: argparse.Namespace) -> Content:
    from hallkpi.dashboards.content import build_content
    from hallkpi.dashboards.settings import GrafanaSettings

    settings = GrafanaSettings.load(args.config) if args.config else GrafanaSettings.defaults()
    return build_content(settings)


def _print_kiosk(content: Content, base: str | None) -> None:
    from hallkpi.dashboards.kiosk import kiosk_urls

    print("wall screens (kiosk):")
    for title, url in kiosk_urls(content, base):
        print(f"  {title}: {url}")


def read_token(token_file: str | None) -> str:
    """The service-account token: the first line of ``token_file``, else $HALLKPI_GRAFANA_TOKEN."""
    if token_file:
        try:
            lines = Path(token_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CommandError(f"cannot read --token-file {token_file}: {exc.strerror}") from exc
        token = lines[0].strip() if lines else ""
        if not token:
            raise CommandError(f"--token-file {token_file} is empty")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise CommandError(
            f"no Grafana token: set ${TOKEN_ENV} or give --token-file "
            "(a service-account token with the Editor or Admin role; see docs/GRAFANA.md)"
        )
    return token


def run_export(args: argparse.Namespace) -> int:
    from hallkpi.dashboards.export import export_tree

    try:
        content = _content(args)
        written = export_tree(content, args.directory)
    except GrafanaError as exc:
        raise CommandError(str(exc)) from exc
    print(f"wrote {len(written)} provisioning files under {args.directory}")
    for path in written:
        print(f"  {path}")
    _print_kiosk(content, None)
    return 0


def run_push(args: argparse.Namespace) -> int:
    from hallkpi.dashboards.http_push import push

    try:
        content = _content(args)
        url = args.url or content.settings.url
        token = read_token(args.token_file)
        report = push(
            content,
            url=url,
            token=token,
            dry_run=args.dry_run,
            timeout_s=args.timeout,
            rotate_password=args.rotate_password,
        )
    except GrafanaError as exc:
        raise CommandError(str(exc)) from exc
    for line in report.lines():
        print(line)
    _print_kiosk(content, content.settings.public_url or url)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "grafana",
        help="provision Grafana: data source, dashboards, alert rules, contact points",
        description="Builds the Grafana content from the engine's KPI names and alert rules "
        "and the [grafana] configuration, and writes it as a provisioning tree (export) or "
        "upserts it through the HTTP API (push). See docs/GRAFANA.md.",
    )
    sub = p.add_subparsers(dest="grafana_command", metavar="ACTION")
    sub.required = True
    e = sub.add_parser("export", help="write the provisioning tree into DIR")
    e.add_argument("directory", metavar="DIR", help="mount it as /etc/grafana/provisioning")
    e.add_argument("--config", metavar="FILE", help="TOML configuration (rules, [grafana])")
    e.set_defaults(func=run_export)
    q = sub.add_parser("push", help="upsert everything through Grafana's HTTP API")
    q.add_argument(
        "--url",
        metavar="URL",
        help="Grafana, e.g. http://localhost:3000 (default: grafana.url of the configuration)",
    )
    q.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"file whose first line is the service-account token (default: ${TOKEN_ENV})",
    )
    q.add_argument("--config", metavar="FILE", help="TOML configuration (rules, [grafana])")
    q.add_argument("--dry-run", action="store_true", help="read only and print the plan")
    q.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds per HTTP request (default 10)",
    )
    q.add_argument(
        "--rotate-password",
        action="store_true",
        help="send the ClickHouse password even if Grafana has one stored",
    )
    q.set_defaults(func=run_push)
