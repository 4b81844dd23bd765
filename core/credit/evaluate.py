"""The annual tax-credit evaluation, a pure function: facts in, per taxpayer and year
the score, the grade, and every deduction with the fact that caused it.

Rules (sources in docs/CREDIT.md; every figure comes from the catalogue's data):

* the year is the calendar year of a fact's date; the score starts at
  ``start_full`` (100), or ``start_nonrecurring_missing`` (90) in a year the taxpayer's
  non-recurring information is missing;
* a scored indicator deducts by its rule: ``fixed`` once a year, ``per_occurrence``
  each fact, ``per_month`` once per calendar month with a fact, ``capped`` each fact
  until ``cap`` a year; the score never goes below ``floor``;
* a fact of a ``direct_d`` indicator grades the taxpayer D whatever the score;
* corrections are facts too: ``APPEAL`` (an appeal or review upheld) withdraws the fact
  it refers to as if it never happened; ``REPAIR`` (纳税信用修复) restores the points of
  the repair tier its delay falls in (never more than was deducted), or lifts a direct
  D of a ``repairable`` indicator, the grade then being at best
  ``repaired_direct_d_max_grade`` (B); the first correction of a fact counts, later
  ones are listed as ignored;
* grade: D when a direct D stands; else M for a new enterprise (its first tax matter
  after 1 January of the year) or one without income in the year scoring at least
  ``no_income_m_min_score``; else A, B, C, D by the thresholds (``score >= A`` ...);
* without ``as_of`` the year's facts count with every correction known, also those of
  later years (a repair re-evaluates the year, as the rules have it); ``as_of`` gives
  the running (provisional) result: only facts and corrections dated on or before it.

Scores are computed in hundredths of a point (integers): the result does not depend on
the order of the facts, and a score of exactly 90 is an A.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hallkpi.core.credit.catalogue import Catalogue, Indicator
from hallkpi.core.errors import HallkpiError

REPAIR = "REPAIR"
APPEAL = "APPEAL"
CORRECTIONS = (REPAIR, APPEAL)
GRADE_ORDER = {"A": 0, "B": 1, "C": 2, "D": 3}


class CreditError(HallkpiError, ValueError):
    """Facts the evaluator cannot use (unknown code, correction without a target...)."""


@dataclass(frozen=True)
class Fact:
    """One fact of a tax system export: ``record`` is its source record id (unique);
    ``refers_to`` is the record a REPAIR or APPEAL corrects; ``amount`` in yuan."""

    taxpayer: str
    code: str
    date: dt.date
    record: str
    amount: float = 0.0
    refers_to: str = ""

    @property
    def key(self) -> tuple[dt.date, str]:
        return (self.date, self.record)


@dataclass(frozen=True)
class Profile:
    """What the evaluation needs beyond the facts (all optional)."""

    taxpayer: str
    name: str = ""
    legal_rep: str = ""
    county: str = ""
    industry: str = ""
    established: dt.date | None = None
    no_income_years: frozenset[int] = frozenset()
    nonrecurring_missing_years: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Deduction:
    """One deduction: ``points`` deducted (hundredths in ``_points``), the fact that
    caused it (``record``) and the others it covers (``also``: the same month of a
    per_month indicator, the same year of a fixed one); ``restored`` by ``repair``."""

    code: str
    record: str
    date: dt.date
    points: float
    also: tuple[str, ...] = ()
    restored: float = 0.0
    repair: str = ""
    note: str = ""

    @property
    def net(self) -> float:
        return round(self.points - self.restored, 2)


@dataclass(frozen=True)
class Result:
    taxpayer: str
    year: int
    as_of: dt.date
    provisional: bool
    start: float
    score: float
    grade: str
    reason: str
    deductions: tuple[Deduction, ...]
    direct_d: tuple[str, ...] = ()  # records of the direct-D facts that stand
    lifted: tuple[str, ...] = ()  # direct-D records lifted by a repair
    withdrawn: tuple[str, ...] = ()  # records withdrawn by an appeal
    ignored: tuple[str, ...] = field(default=())  # corrections that did not apply, why


def _hundredths(points: float) -> int:
    return round(points * 100)


def _days(a: dt.date, b: dt.date) -> int:
    return (b - a).days


def check_facts(facts: Iterable[Fact], catalogue: Catalogue) -> None:
    """CreditError for the first fact the evaluator cannot use."""
    seen: set[str] = set()
    for f in facts:
        if f.code not in catalogue and f.code not in CORRECTIONS:
            raise CreditError(f"record {f.record}: unknown indicator code {f.code!r}")
        if f.code in CORRECTIONS and not f.refers_to:
            raise CreditError(f"record {f.record}: a {f.code} names the record it corrects")
        if f.record in seen:
            raise CreditError(f"record {f.record}: the same record id twice")
        seen.add(f.record)


def _new_enterprise(profile: Profile, year: int) -> bool:
    e = profile.established
    return e is not None and e.year == year and e > dt.date(year, 1, 1)


def _score_grade(catalogue: Catalogue, score: float) -> str:
    s = catalogue.scoring
    if score >= s.grade_a:
        return "A"
    if score >= s.grade_b:
        return "B"
    if score >= s.grade_c:
        return "C"
    return "D"


def evaluate_taxpayer(
    taxpayer: str,
    facts: Iterable[Fact],
    catalogue: Catalogue,
    year: int,
    *,
    profile: Profile | None = None,
    as_of: dt.date | None = None,
) -> Result:
    """The result of one taxpayer for ``year`` from its facts (others' are ignored)."""
    year_end = dt.date(year, 12, 31)
    cut = as_of or year_end
    prof = profile or Profile(taxpayer)
    mine = [f for f in facts if f.taxpayer == taxpayer]
    events = sorted(
        (f for f in mine if f.code not in CORRECTIONS and f.date.year == year and f.date <= cut),
        key=lambda f: f.key,
    )
    by_record = {f.record: f for f in events}
    corrections = sorted(
        (f for f in mine if f.code in CORRECTIONS and (as_of is None or f.date <= as_of)),
        key=lambda f: f.key,
    )

    ignored: list[str] = []
    appeal: dict[str, str] = {}
    repair: dict[str, Fact] = {}
    for c in corrections:
        target = by_record.get(c.refers_to)
        if target is None:
            if c.date.year >= year:  # a correction of another year's fact is not ours
                ignored.append(f"{c.record}: {c.refers_to} is no fact of {year}")
            continue
        if c.date < target.date:
            ignored.append(f"{c.record}: dated before the fact {target.record}")
        elif c.refers_to in appeal or c.refers_to in repair:
            ignored.append(f"{c.record}: {c.refers_to} was corrected already")
        elif c.code == APPEAL:
            appeal[c.refers_to] = c.record
        else:
            repair[c.refers_to] = c
    standing = [f for f in events if f.record not in appeal]

    # deductions, grouped by rule; facts are in (date, record) order
    groups: dict[tuple[str, object], list[Fact]] = defaultdict(list)
    direct: list[Fact] = []
    for f in standing:
        ind = catalogue[f.code]
        if ind.rule == "direct_d":
            direct.append(f)
        elif ind.rule == "fixed":
            groups[(f.code, None)].append(f)
        elif ind.rule == "per_month":
            groups[(f.code, f.date.month)].append(f)
        else:
            groups[(f.code, f.record)].append(f)
    capped_used: dict[str, int] = defaultdict(int)
    deductions: list[Deduction] = []
    for _, group in sorted(groups.items(), key=lambda kv: kv[1][0].key):
        first = group[0]
        ind = catalogue[first.code]
        points = _hundredths(ind.points)
        note = ""
        if ind.rule == "capped" and ind.cap is not None:
            room = _hundredths(ind.cap) - capped_used[ind.code]
            if points > room:
                points, note = max(room, 0), f"cap of {ind.cap:g} a year"
            capped_used[ind.code] += points
        restored, by = _restore(ind, group, repair, points, ignored)
        deductions.append(
            Deduction(
                code=ind.code,
                record=first.record,
                date=first.date,
                points=points / 100,
                also=tuple(f.record for f in group[1:]),
                restored=restored / 100,
                repair=by,
                note=note,
            )
        )

    lifted: list[str] = []
    stands: list[str] = []
    for f in direct:
        r = repair.get(f.record)
        if r is not None and catalogue[f.code].repairable:
            lifted.append(f.record)
        else:
            if r is not None:
                ignored.append(f"{r.record}: {f.code} cannot be repaired")
            stands.append(f.record)

    s = catalogue.scoring
    missing = year in prof.nonrecurring_missing_years
    start = _hundredths(s.start_nonrecurring_missing if missing else s.start_full)
    total = sum(_hundredths(d.points) - _hundredths(d.restored) for d in deductions)
    score = max(start - total, _hundredths(s.floor)) / 100

    if stands:
        grade, reason = "D", f"direct D: {', '.join(stands)}"
    elif _new_enterprise(prof, year):
        grade, reason = "M", f"new enterprise (first tax matter {prof.established})"
    elif year in prof.no_income_years and score >= s.no_income_m_min_score:
        grade, reason = (
            "M",
            f"no income in {year}, score {score:.2f} >= {s.no_income_m_min_score:g}",
        )
    else:
        grade = _score_grade(catalogue, score)
        reason = f"score {score:.2f}"
    if lifted and grade in GRADE_ORDER:
        cap = s.repaired_direct_d_max_grade
        if GRADE_ORDER[grade] < GRADE_ORDER[cap]:
            grade = cap
        reason += f"; direct D lifted by repair ({', '.join(lifted)}), at best {cap}"
    return Result(
        taxpayer=taxpayer,
        year=year,
        as_of=cut,
        provisional=cut < year_end,
        start=start / 100,
        score=score,
        grade=grade,
        reason=reason,
        deductions=tuple(deductions),
        direct_d=tuple(stands),
        lifted=tuple(lifted),
        withdrawn=tuple(sorted(appeal)),
        ignored=tuple(ignored),
    )


def _restore(
    ind: Indicator,
    group: list[Fact],
    repairs: Mapping[str, Fact],
    points: int,
    ignored: list[str],
) -> tuple[int, str]:
    """Hundredths restored to one deduction by the first repair of any of its facts."""
    hits = sorted(
        ((repairs[f.record], f) for f in group if f.record in repairs), key=lambda h: h[0].key
    )
    if not hits:
        return 0, ""
    (r, fact), rest = hits[0], hits[1:]
    for other, _ in rest:
        ignored.append(f"{other.record}: the deduction of {fact.record} was repaired already")
    if not ind.repair:
        ignored.append(f"{r.record}: {ind.code} has no repair rule")
        return 0, ""
    delay = _days(fact.date, r.date)
    for tier in ind.repair:
        if tier.within_days is None or delay <= tier.within_days:
            return min(_hundredths(tier.restores(fact.amount)), points), r.record
    ignored.append(f"{r.record}: {delay} days is beyond every repair tier of {ind.code}")
    return 0, ""


def evaluate(
    facts: Iterable[Fact],
    catalogue: Catalogue,
    year: int,
    *,
    profiles: Mapping[str, Profile] | None = None,
    as_of: dt.date | None = None,
) -> dict[str, Result]:
    """Results for ``year`` of every taxpayer with a fact of the year or a profile
    established by then, by taxpayer id (sorted)."""
    everything = list(facts)
    check_facts(everything, catalogue)
    profiles = profiles or {}
    cut = as_of or dt.date(year, 12, 31)
    by_taxpayer: dict[str, list[Fact]] = defaultdict(list)
    for f in everything:
        by_taxpayer[f.taxpayer].append(f)
    who = {f.taxpayer for f in everything if f.date.year == year and f.date <= cut}
    for tid, p in profiles.items():
        if p.established is None or p.established <= cut:
            who.add(tid)
    return {
        t: evaluate_taxpayer(
            t, by_taxpayer.get(t, []), catalogue, year, profile=profiles.get(t), as_of=as_of
        )
        for t in sorted(who)
    }


def grade_counts(results: Iterable[Result]) -> dict[str, int]:
    """How many results per grade, in the order A, B, M, C, D."""
    counts = dict.fromkeys(("A", "B", "M", "C", "D"), 0)
    for r in results:
        counts[r.grade] += 1
    return counts
