"""A generated taxpayer population with planted cases whose grades a hand calculation
gives (docs/CREDIT.md, "Sample"); for ``make demo`` and the tests.

Planted (by name -> expected grade): ``direct_d`` (tax evasion, D03) -> D,
``repair_lifts`` (abnormal taxpayer D09, lifted by a repair) -> B, ``on_90`` (two late
returns in two months: 100 - 5 - 5) -> A, ``on_70`` (start 90, 11 + 3 + 3 + 3) -> B,
``below_70`` (the same and one more point) -> C, ``new_m`` (first tax matter in the
year) -> M, ``published`` (major violation case, D12) -> D and on the blacklist,
``publication_repaired`` (D12, then repaired) -> D, taken off the blacklist.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

from hallkpi.core.credit import uscc
from hallkpi.core.credit.evaluate import REPAIR, Fact, Profile
from hallkpi.ingest.credit.imports import FACT_COLUMNS, FACT_OPTIONAL, PROFILE_OPTIONAL
from hallkpi.ingest.credit.store import Detail

COUNTIES = {"350102": "鼓楼区", "350103": "台江区", "350121": "闽侯县"}
INDUSTRIES = ("manufacturing", "retail", "construction", "software", "logistics")
SCORED = ("010101", "010102", "010103", "010106", "010301", "010501", "N-BANKACCT", "L01", "L02")
PLANTED_GRADES = {
    "direct_d": "D",
    "repair_lifts": "B",
    "on_90": "A",
    "on_70": "B",
    "below_70": "C",
    "new_m": "M",
    "published": "D",
    "publication_repaired": "D",
}


@dataclass
class Sample:
    year: int
    profiles: list[Profile] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    details: dict[str, Detail] = field(default_factory=dict)
    planted: dict[str, str] = field(default_factory=dict)  # name -> taxpayer


def _code(rnd: random.Random, county: str, used: set[str]) -> str:
    while True:
        body = "".join(rnd.choice(uscc.ALPHABET) for _ in range(9))
        code = uscc.make("91" + county + body)
        if code not in used:
            used.add(code)
            return code


def generate(n: int = 500, year: int = 2025, seed: int = 16) -> Sample:
    """``n`` random taxpayers (at least the planted ones), deterministic for a seed."""
    rnd = random.Random(seed)
    s = Sample(year)
    used: set[str] = set()
    counties = sorted(COUNTIES)
    seq = 0

    def add(tid: str, code: str, day: dt.date, amount: float = 0.0, refers: str = "") -> str:
        nonlocal seq
        seq += 1
        rec = f"R{year}{seq:07d}"
        s.facts.append(Fact(tid, code, day, rec, amount, refers))
        return rec

    def taxpayer(name: str, **kw: object) -> str:
        county = counties[len(s.profiles) % len(counties)]
        tid = _code(rnd, county, used)
        s.profiles.append(
            Profile(
                tid,
                name=name,
                legal_rep=f"法人{len(s.profiles):04d}",
                county=county,
                industry=INDUSTRIES[len(s.profiles) % len(INDUSTRIES)],
                **kw,  # type: ignore[arg-type]
            )
        )
        return tid

    d = dt.date
    p = s.planted
    p["direct_d"] = t = taxpayer("示例偷税公司")
    add(t, "D03", d(year, 6, 1), 250_000)
    p["repair_lifts"] = t = taxpayer("示例非正常户公司")
    rec = add(t, "D09", d(year, 4, 1))
    add(t, REPAIR, d(year + 1, 2, 1), refers=rec)
    p["on_90"] = t = taxpayer("示例九十分公司")
    add(t, "010101", d(year, 2, 16), 800)
    add(t, "010101", d(year, 5, 16), 900)
    missing = frozenset({year})
    for name, extra in (("on_70", 0), ("below_70", 1)):
        p[name] = t = taxpayer(f"示例{name}公司", nonrecurring_missing_years=missing)
        add(t, "010106", d(year, 3, 1))
        for k in range(3):
            add(t, "010103", d(year, 4 + k, 20))
        for _ in range(extra):
            add(t, "010301", d(year, 9, 1))
    p["new_m"] = t = taxpayer("示例新办公司", established=d(year, 8, 1))
    add(t, "010101", d(year, 9, 16), 100)
    p["published"] = t = taxpayer("示例重大违法公司")
    rec = add(t, "D12", d(year, 7, 10), 3_200_000)
    s.details[rec] = Detail(
        "虚开增值税专用发票", "《中华人民共和国税收征收管理法》第六十三条", "追缴税款并处罚款"
    )
    p["publication_repaired"] = t = taxpayer("示例已修复公司")
    rec = add(t, "D12", d(year, 3, 10), 1_500_000)
    s.details[rec] = Detail(
        "逃避缴纳税款", "《中华人民共和国税收征收管理法》第六十三条", "补缴税款、滞纳金和罚款"
    )
    add(t, REPAIR, d(year, 11, 1), refers=rec)

    for k in range(max(n - len(s.profiles), 0)):
        established = d(year - rnd.randint(1, 15), rnd.randint(1, 12), 1)
        if rnd.random() < 0.04:
            established = d(year, rnd.randint(2, 11), 1)
        t = taxpayer(
            f"样本企业{k:05d}",
            established=established,
            no_income_years=frozenset({year}) if rnd.random() < 0.03 else frozenset(),
            nonrecurring_missing_years=missing if rnd.random() < 0.1 else frozenset(),
        )
        for _ in range(min(int(rnd.expovariate(0.7)), 12)):
            code = rnd.choice(SCORED)
            day = d(year, rnd.randint(1, 12), rnd.randint(1, 28))
            rec = add(t, code, day, rnd.choice([300.0, 1500.0, 6000.0]))
            if rnd.random() < 0.25 and code in ("010101", "010102", "010103", "010501"):
                add(t, REPAIR, day + dt.timedelta(days=rnd.choice([2, 20, 60, 120])), refers=rec)
        if rnd.random() < 0.01:
            add(t, rnd.choice(("D01", "D05", "D06")), d(year, rnd.randint(1, 12), 5))
    return s


def write_csv(s: Sample, folder: Path) -> tuple[Path, Path]:
    """The sample as the two exports a tax system would give: taxpayers.csv, facts.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    tax, facts = folder / "taxpayers.csv", folder / "facts.csv"
    with tax.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("taxpayer", "name", *PROFILE_OPTIONAL))
        for p in s.profiles:
            w.writerow(
                (
                    p.taxpayer,
                    p.name,
                    p.legal_rep,
                    p.county,
                    p.industry,
                    p.established.isoformat() if p.established else "",
                    ";".join(map(str, sorted(p.no_income_years))),
                    ";".join(map(str, sorted(p.nonrecurring_missing_years))),
                )
            )
    with facts.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow((*FACT_COLUMNS, *FACT_OPTIONAL))
        for f in s.facts:
            d = s.details.get(f.record) or Detail()
            w.writerow(
                (
                    f.taxpayer,
                    f.code,
                    f.date.isoformat(),
                    f.record,
                    f"{f.amount:g}",
                    f.refers_to,
                    d.main_facts,
                    d.legal_basis,
                    d.penalty,
                )
            )
    return tax, facts
