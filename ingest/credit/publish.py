"""Files for the shared credit platform and the hall (docs/CREDIT.md, "Publication").

* ``a_grade_<year>.csv|json``: the A-grade taxpayers of a final evaluation, for the
  joint incentives and the hall's green channel (code, name, county, year, grade);
* ``blacklist_<day>.csv|json``: the major tax-violation cases standing on ``day``:
  facts of a ``publish = true`` indicator, neither withdrawn (APPEAL) nor repaired
  (REPAIR: early stop of publication after correction, S9), within their publication
  period (``years`` from the fact's date; 3 by default, unsourced configuration). Only
  the fields publication allows: name, code, legal representative, main facts, legal
  basis, penalty, period (from, to);
* ``blacklist_removed_<day>.csv|json``: cases published before and no longer, with
  the day and reason (repair, appeal, expired), so the platform takes them down.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from hallkpi.core.credit.catalogue import Catalogue
from hallkpi.core.credit.evaluate import APPEAL, REPAIR, Fact, Profile
from hallkpi.ingest.credit.store import Detail, StoredResult

PUBLISHED_FIELDS = (
    "name",
    "code",
    "legal_rep",
    "main_facts",
    "legal_basis",
    "penalty",
    "period_from",
    "period_to",
)
REMOVED_FIELDS = ("code", "period_from", "removed_on", "reason")
A_FIELDS = ("code", "name", "county", "year", "grade")
DEFAULT_YEARS = 3


@dataclass(frozen=True)
class Case:
    name: str
    code: str
    legal_rep: str
    main_facts: str
    legal_basis: str
    penalty: str
    period_from: str
    period_to: str


@dataclass(frozen=True)
class Removal:
    code: str
    period_from: str
    removed_on: str
    reason: str


def _until(start: dt.date, years: int) -> dt.date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def blacklist(
    facts: Iterable[Fact],
    details: Mapping[str, Detail],
    profiles: Mapping[str, Profile],
    catalogue: Catalogue,
    day: dt.date,
    *,
    years: int = DEFAULT_YEARS,
) -> tuple[list[Case], list[Removal]]:
    """The cases published on ``day`` and those taken down by then (sorted)."""
    everything = list(facts)
    first_correction: dict[str, Fact] = {}
    for c in sorted(
        (f for f in everything if f.code in (REPAIR, APPEAL) and f.date <= day),
        key=lambda f: f.key,
    ):
        first_correction.setdefault(c.refers_to, c)
    cases: list[Case] = []
    removed: list[Removal] = []
    for f in sorted(everything, key=lambda f: (f.taxpayer, f.date, f.record)):
        if f.code not in catalogue or not catalogue[f.code].publish or f.date > day:
            continue
        end = _until(f.date, years)
        corr = first_correction.get(f.record)
        if corr is not None:
            reason = "repair" if corr.code == REPAIR else "appeal"
            removed.append(Removal(f.taxpayer, f.date.isoformat(), corr.date.isoformat(), reason))
            continue
        if day >= end:
            removed.append(Removal(f.taxpayer, f.date.isoformat(), end.isoformat(), "expired"))
            continue
        p = profiles.get(f.taxpayer) or Profile(f.taxpayer)
        d = details.get(f.record) or Detail(main_facts=catalogue[f.code].name_zh)
        cases.append(
            Case(
                name=p.name,
                code=f.taxpayer,
                legal_rep=p.legal_rep,
                main_facts=d.main_facts or catalogue[f.code].name_zh,
                legal_basis=d.legal_basis,
                penalty=d.penalty,
                period_from=f.date.isoformat(),
                period_to=end.isoformat(),
            )
        )
    return cases, removed


def a_grade(
    results: Iterable[StoredResult], profiles: Mapping[str, Profile]
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for r in sorted(results, key=lambda r: r.taxpayer):
        if r.grade == "A" and not r.provisional:
            p = profiles.get(r.taxpayer)
            out.append(
                {
                    "code": r.taxpayer,
                    "name": p.name if p else "",
                    "county": r.county,
                    "year": r.year,
                    "grade": r.grade,
                }
            )
    return out


def _write(
    out: Path,
    stem: str,
    fields: Sequence[str],
    rows: Sequence[Mapping[str, object]],
    meta: Mapping[str, object],
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out / f"{stem}.csv", out / f"{stem}.json"
    with csv_path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(fields), extrasaction="raise")
        w.writeheader()
        w.writerows(rows)
    doc = {**meta, "fields": list(fields), "count": len(rows), "entries": list(rows)}
    json_path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return [csv_path, json_path]


def write_publication(
    out: Path,
    *,
    year: int,
    day: dt.date,
    a_list: Sequence[Mapping[str, object]],
    cases: Sequence[Case],
    removed: Sequence[Removal],
    years: int = DEFAULT_YEARS,
) -> list[Path]:
    """The six files (A list, blacklist, removals; CSV and JSON each)."""
    meta = {"published": day.isoformat()}
    paths = _write(out, f"a_grade_{year}", A_FIELDS, a_list, {**meta, "year": year})
    paths += _write(
        out,
        f"blacklist_{day.isoformat()}",
        PUBLISHED_FIELDS,
        [asdict(c) for c in cases],
        {**meta, "publication_years": years},
    )
    paths += _write(
        out,
        f"blacklist_removed_{day.isoformat()}",
        REMOVED_FIELDS,
        [asdict(r) for r in removed],
        meta,
    )
    return paths
