"""Command-line options shared by the store commands: ``--store``, ``--password-file``."""

from __future__ import annotations

import argparse

from hallkpi.core.errors import CommandError
from hallkpi.ingest.errors import StoreConfigError
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.url import PASSWORD_ENV, STORE_ENV, read_password, resolve_store_url


def add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        metavar="URL",
        help=f"chdb:///dir or http(s)://user@host:8123/database (default: ${STORE_ENV})",
    )
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help=f"file whose first line is the ClickHouse password (default: ${PASSWORD_ENV})",
    )


def store_from_args(args: argparse.Namespace) -> Store:
    """The Store named by ``--store``/``HALLKPI_STORE`` with its password."""
    try:
        url = resolve_store_url(args.store)
        return Store(url, password=read_password(args.password_file))
    except StoreConfigError as exc:
        raise CommandError(str(exc)) from exc
