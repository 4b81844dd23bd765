"""Reading the tax systems' exports: CSV (UTF-8, header row) or Parquet, facts or
taxpayer profiles (told apart by their header).

Facts: ``taxpayer, code, date, record`` and optionally ``amount, refers_to,
main_facts, legal_basis, penalty``. Profiles: ``taxpayer, name`` and optionally
``legal_rep, county, industry, established, no_income_years,
nonrecurring_missing_years`` (years separated by ``;``). Dates are ``YYYY-MM-DD``.

A bad row is refused with its line and reason and counted by reason; the good rows of
the file are still imported: nothing is lost silently, nothing crashes the import.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hallkpi.core.credit import uscc
from hallkpi.core.credit.catalogue import Catalogue
from hallkpi.core.credit.evaluate import CORRECTIONS, Fact, Profile
from hallkpi.core.errors import CommandError
from hallkpi.ingest.credit.store import Detail

FACT_COLUMNS = ("taxpayer", "code", "date", "record")
FACT_OPTIONAL = ("amount", "refers_to", "main_facts", "legal_basis", "penalty")
PROFILE_COLUMNS = ("taxpayer", "name")
PROFILE_OPTIONAL = (
    "legal_rep",
    "county",
    "industry",
    "established",
    "no_income_years",
    "nonrecurring_missing_years",
)
MAX_EXAMPLES = 10


@dataclass
class Parsed:
    """One file read: its kind, the rows accepted, the refusals (by reason)."""

    path: str
    kind: str
    facts: list[Fact] = field(default_factory=list)
    details: dict[str, Detail] = field(default_factory=dict)
    profiles: list[Profile] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.facts) + len(self.profiles)

    def refuse(self, line: int, reason: str) -> None:
        self.refused[reason.split(":", maxsplit=1)[0]] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{self.path}:{line}: {reason}")


class RowError(ValueError):
    pass


def _rows(path: Path) -> tuple[list[str], Iterator[tuple[int, Mapping[str, Any]]]]:
    if path.suffix.lower() == ".parquet":
        try:
            import polars as pl
        except ImportError:
            raise CommandError(
                f"{path}: reading Parquet needs polars (pip install polars)"
            ) from None
        try:
            frame = pl.read_parquet(path)
        except Exception as exc:  # polars raises several kinds for a bad file
            raise CommandError(f"{path}: not a readable Parquet file ({exc})") from exc
        return list(frame.columns), ((n + 1, r) for n, r in enumerate(frame.iter_rows(named=True)))
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CommandError(f"{path}: cannot read ({exc.strerror})") from exc
    reader = csv.DictReader(handle)
    header = list(reader.fieldnames or [])

    def gen() -> Iterator[tuple[int, Mapping[str, Any]]]:
        with handle:
            for row in reader:
                yield reader.line_num, row

    return header, gen()


def _text(row: Mapping[str, Any], key: str) -> str:
    v = row.get(key)
    if v is None:
        return ""
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v).strip()


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise RowError(f"bad {what}: {text!r} is no YYYY-MM-DD date") from None


def _years(text: str) -> frozenset[int]:
    out = set()
    for part in text.replace(",", ";").split(";"):
        if part.strip():
            if not part.strip().isdigit() or not 1990 <= int(part) <= 2200:
                raise RowError(f"bad year: {part.strip()!r}")
            out.add(int(part))
    return frozenset(out)


def parse_fact(row: Mapping[str, Any], catalogue: Catalogue) -> tuple[Fact, Detail | None]:
    try:
        taxpayer = uscc.validate(_text(row, "taxpayer"))
    except uscc.InvalidTaxpayerId as exc:
        raise RowError(f"bad taxpayer: {exc}") from None
    code = _text(row, "code")
    if code not in catalogue and code not in CORRECTIONS:
        raise RowError(f"unknown code: {code!r}")
    date = _date(_text(row, "date"), "date")
    record = _text(row, "record")
    if not record:
        raise RowError("no record: the source record id is empty")
    raw = _text(row, "amount")
    try:
        amount = float(raw) if raw else 0.0
    except ValueError:
        raise RowError(f"bad amount: {raw!r}") from None
    if not math.isfinite(amount) or amount < 0:
        raise RowError(f"bad amount: {raw!r}")
    refers = _text(row, "refers_to")
    if code in CORRECTIONS and not refers:
        raise RowError(f"no refers_to: a {code} names the record it corrects")
    detail = Detail(_text(row, "main_facts"), _text(row, "legal_basis"), _text(row, "penalty"))
    return Fact(taxpayer, code, date, record, amount, refers), (
        detail if any((detail.main_facts, detail.legal_basis, detail.penalty)) else None
    )


def parse_profile(row: Mapping[str, Any]) -> Profile:
    try:
        taxpayer = uscc.validate(_text(row, "taxpayer"))
    except uscc.InvalidTaxpayerId as exc:
        raise RowError(f"bad taxpayer: {exc}") from None
    est = _text(row, "established")
    return Profile(
        taxpayer=taxpayer,
        name=_text(row, "name"),
        legal_rep=_text(row, "legal_rep"),
        county=_text(row, "county"),
        industry=_text(row, "industry"),
        established=_date(est, "established") if est else None,
        no_income_years=_years(_text(row, "no_income_years")),
        nonrecurring_missing_years=_years(_text(row, "nonrecurring_missing_years")),
    )


def read_export(path: Path, catalogue: Catalogue) -> Parsed:
    """Every row of one export, accepted or refused with its reason."""
    header, rows = _rows(path)
    cols = set(header)
    if set(FACT_COLUMNS) <= cols:
        kind = "facts"
    elif set(PROFILE_COLUMNS) <= cols:
        kind = "taxpayers"
    else:
        raise CommandError(
            f"{path}: neither facts (columns {', '.join(FACT_COLUMNS)}) nor taxpayers "
            f"(columns {', '.join(PROFILE_COLUMNS)}); header is {header}"
        )
    out = Parsed(str(path), kind)
    seen: set[str] = set()
    for line, row in rows:
        try:
            if kind == "facts":
                f, detail = parse_fact(row, catalogue)
                if f.record in seen:
                    raise RowError(f"duplicate record: {f.record!r} twice in the file")
                seen.add(f.record)
                out.facts.append(f)
                if detail is not None:
                    out.details[f.record] = detail
            else:
                p = parse_profile(row)
                if p.taxpayer in seen:
                    raise RowError(f"duplicate taxpayer: {p.taxpayer} twice in the file")
                seen.add(p.taxpayer)
                out.profiles.append(p)
        except RowError as exc:
            out.refuse(line, str(exc))
    return out
