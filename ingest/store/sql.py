"""SQL conventions of the store: values are always bound as server-side parameters
(``{name:Type}`` placeholders with ``parameters=``); only identifiers (database, table
and column names) are ever put into SQL text, after :func:`check_ident`.
"""

from __future__ import annotations

import re

from hallkpi.ingest.errors import StoreConfigError

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
"""What a database, table, column or cluster name may be."""


def check_ident(name: str, what: str = "identifier") -> str:
    """``name`` if it is a plain identifier (``[A-Za-z_][A-Za-z0-9_]{0,62}``), else
    StoreConfigError."""
    if not isinstance(name, str) or not IDENT.fullmatch(name):
        raise StoreConfigError(
            f"{what} {name!r} is not a plain identifier (letters, digits, _; 1..63 chars)"
        )
    return name


def ident(name: str) -> str:
    """A checked identifier, back-quoted for SQL text."""
    return f"`{check_ident(name)}`"


def qualified(database: str, table: str) -> str:
    """``database.table``, both checked and back-quoted."""
    return f"{ident(database)}.{ident(table)}"
