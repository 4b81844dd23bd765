"""Credit facts, profiles and results in the store (tables of migration 7).

Rows go in as ``INSERT ... SELECT FROM format(JSONEachRow, structure, {data:String})``:
the data is one bound parameter, never SQL text. Reads use ``FINAL``: a record imported
twice, or a result evaluated twice, is read once (the latest).

Scopes: a taxpayer's county is its profile's ``county``, else the administrative
division in its unified social credit code (characters 3-8). ``county=None`` is the
city scope (every taxpayer); a county sees only its own.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hallkpi.core.credit import uscc
from hallkpi.core.credit.evaluate import Fact, Profile, Result
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.schema import CREDIT_FACTS, CREDIT_RESULTS, CREDIT_TAXPAYERS, Table

CHUNK = 50_000
_last_seq = [0]


def next_seq() -> int:
    """Strictly increasing nanosecond stamps (later import or evaluation wins)."""
    _last_seq[0] = max(time.time_ns(), _last_seq[0] + 1)
    return _last_seq[0]


def _insert(store: Store, table: Table, rows: Iterable[Mapping[str, Any]]) -> int:
    structure = ", ".join(f"{n} {t}" for n, t in table.columns)
    sql = (
        f"INSERT INTO {store.table(table.name)} SELECT * FROM "
        f"format(JSONEachRow, '{structure}', {{data:String}})"
    )
    n = 0
    it = iter(rows)
    while chunk := list(itertools.islice(it, CHUNK)):
        store.command(sql, {"data": "\n".join(json.dumps(r, ensure_ascii=False) for r in chunk)})
        n += len(chunk)
    return n


def county_of(taxpayer: str, profile: Profile | None) -> str:
    if profile is not None and profile.county:
        return profile.county
    try:
        return uscc.division(taxpayer)
    except uscc.InvalidTaxpayerId:
        return ""


@dataclass(frozen=True)
class Detail:
    """What a case publication needs beyond the fact (from the export, optional)."""

    main_facts: str = ""
    legal_basis: str = ""
    penalty: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {
                "main_facts": self.main_facts,
                "legal_basis": self.legal_basis,
                "penalty": self.penalty,
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @staticmethod
    def from_json(text: str) -> Detail:
        d = json.loads(text) if text else {}
        return Detail(d.get("main_facts", ""), d.get("legal_basis", ""), d.get("penalty", ""))


def insert_facts(
    store: Store,
    facts: Sequence[Fact],
    source: str,
    details: Mapping[str, Detail] | None = None,
) -> int:
    seq = next_seq()
    details = details or {}
    return _insert(
        store,
        CREDIT_FACTS,
        (
            {
                "taxpayer": f.taxpayer,
                "code": f.code,
                "date": f.date.isoformat(),
                "record": f.record,
                "amount": f.amount,
                "refers_to": f.refers_to,
                "detail": details[f.record].to_json() if f.record in details else "",
                "source": source,
                "ingest_seq": seq,
            }
            for f in facts
        ),
    )


def insert_profiles(store: Store, profiles: Iterable[Profile]) -> int:
    seq = next_seq()
    return _insert(
        store,
        CREDIT_TAXPAYERS,
        (
            {
                "taxpayer": p.taxpayer,
                "name": p.name,
                "legal_rep": p.legal_rep,
                "county": p.county,
                "industry": p.industry,
                "established": p.established.isoformat() if p.established else None,
                "no_income_years": sorted(p.no_income_years),
                "nonrecurring_missing_years": sorted(p.nonrecurring_missing_years),
                "ingest_seq": seq,
            }
            for p in profiles
        ),
    )


def read_profiles(store: Store, county: str | None = None) -> dict[str, Profile]:
    rows = store.rows(
        "SELECT taxpayer, name, legal_rep, county, industry, established, no_income_years, "
        f"nonrecurring_missing_years FROM {store.table(CREDIT_TAXPAYERS.name)} FINAL"
    )
    out = {
        r[0]: Profile(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            frozenset(int(y) for y in r[6]),
            frozenset(int(y) for y in r[7]),
        )
        for r in rows
    }
    if county is None:
        return out
    return {t: p for t, p in out.items() if county_of(t, p) == county}


def read_facts(
    store: Store,
    profiles: Mapping[str, Profile],
    *,
    county: str | None = None,
    taxpayer: str | None = None,
) -> tuple[list[Fact], dict[str, Detail]]:
    """Facts (and case details by record) in scope; ``profiles`` of the whole city."""
    where, params = "", {}
    if taxpayer is not None:
        where, params = " WHERE taxpayer = {t:String}", {"t": taxpayer}
    rows = store.rows(
        "SELECT taxpayer, code, date, record, amount, refers_to, detail "
        f"FROM {store.table(CREDIT_FACTS.name)} FINAL{where}",
        params,
    )
    facts: list[Fact] = []
    details: dict[str, Detail] = {}
    for t, code, date, record, amount, refers, detail in rows:
        if county is not None and county_of(t, profiles.get(t)) != county:
            continue
        facts.append(Fact(t, code, date, record, float(amount), refers))
        if detail:
            details[record] = Detail.from_json(detail)
    return facts, details


def _deductions_json(r: Result) -> str:
    return json.dumps(
        [
            {
                "code": d.code,
                "record": d.record,
                "date": d.date.isoformat(),
                "points": d.points,
                "also": list(d.also),
                "restored": d.restored,
                "repair": d.repair,
                "note": d.note,
            }
            for d in r.deductions
        ],
        ensure_ascii=False,
    )


def insert_results(
    store: Store,
    results: Iterable[Result],
    profiles: Mapping[str, Profile],
    versions: Mapping[str, str],
) -> int:
    seq = next_seq()
    cat = json.dumps(dict(versions), sort_keys=True)
    return _insert(
        store,
        CREDIT_RESULTS,
        (
            {
                "year": r.year,
                "taxpayer": r.taxpayer,
                "as_of": r.as_of.isoformat(),
                "provisional": int(r.provisional),
                "county": county_of(r.taxpayer, profiles.get(r.taxpayer)),
                "industry": p.industry if (p := profiles.get(r.taxpayer)) else "",
                "start": r.start,
                "score": r.score,
                "grade": r.grade,
                "reason": r.reason,
                "deductions": _deductions_json(r),
                "direct_d": list(r.direct_d),
                "lifted": list(r.lifted),
                "catalogue": cat,
                "evaluated_seq": seq,
            }
            for r in results
        ),
    )


@dataclass(frozen=True)
class StoredResult:
    year: int
    taxpayer: str
    as_of: dt.date
    provisional: bool
    county: str
    industry: str
    score: float
    grade: str
    reason: str


def read_results(
    store: Store, year: int, *, county: str | None = None, provisional: bool = False
) -> list[StoredResult]:
    """The latest stored result per taxpayer of ``year`` (final ones unless
    ``provisional``: then the latest evaluation, running or final), in scope."""
    cond = "year = {y:UInt16}" + ("" if provisional else " AND provisional = 0")
    params: dict[str, Any] = {"y": year}
    if county is not None:
        cond += " AND county = {c:String}"
        params["c"] = county
    rows = store.rows(
        "SELECT year, taxpayer, as_of, provisional, county, industry, score, grade, reason "
        f"FROM {store.table(CREDIT_RESULTS.name)} FINAL WHERE {cond} "
        "ORDER BY taxpayer, as_of DESC LIMIT 1 BY taxpayer",
        params,
    )
    return [
        StoredResult(int(r[0]), r[1], r[2], bool(r[3]), r[4], r[5], float(r[6]), r[7], r[8])
        for r in rows
    ]
