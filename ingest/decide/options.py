"""Command glue the decision commands share: the common options (store, format,
configuration, time zone), the configuration they name and the day they look at.
Only the command modules of this room import it."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence

from hallkpi.core.config import EngineConfig, load_config
from hallkpi.core.errors import CommandError, ConfigError
from hallkpi.ingest.decide.history import last_event_day
from hallkpi.ingest.store.cli_options import add_store_options
from hallkpi.ingest.store.connection import Store


def config_of(path: str | None) -> EngineConfig:
    try:
        return load_config(path) if path else EngineConfig()
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc


def resolve_day(store: Store, text: str | None, timezone: str) -> dt.date:
    if text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            raise CommandError(f"--date {text!r}: use YYYY-MM-DD") from exc
    day = last_event_day(store, timezone)
    if day is None:
        raise CommandError("the store holds no events")
    return day


def add_common(p: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    add_store_options(p)
    p.add_argument("--format", choices=tuple(formats), default=formats[0])
    p.add_argument("--config", metavar="FILE", help="TOML configuration")
    p.add_argument("--timezone", metavar="TZ", help="IANA time zone of the halls")
