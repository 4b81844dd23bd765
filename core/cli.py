"""The `hallkpi` command line.

Subcommands are found through the entry-point group ``hallkpi.commands``: each entry
point names a ``register(subparsers)`` function that adds its parser and sets
``func`` (a callable taking the parsed namespace and returning an exit code). So
core never imports the packages above it, and a third party can add a command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

from hallkpi.core.errors import CommandError

Register = Callable[[Any], None]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hallkpi",
        description="KPIs for public service halls and their phone lines.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    seen: set[str] = set()
    for ep in sorted(entry_points(group="hallkpi.commands"), key=lambda e: e.name):
        if ep.name in seen:
            continue
        seen.add(ep.name)
        try:
            register: Register = ep.load()
        except Exception as exc:  # a broken plugin must not take the other commands down
            print(f"hallkpi: command {ep.name!r} unavailable: {exc}", file=sys.stderr)
            continue
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CommandError as exc:
        print(f"hallkpi {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
