"""The evaluator: the worked examples of docs/CREDIT.md, the planted boundary cases,
and properties that hold for any facts (hypothesis)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hallkpi.core.credit import uscc
from hallkpi.core.credit.catalogue import load_catalogue
from hallkpi.core.credit.evaluate import (
    APPEAL,
    REPAIR,
    CreditError,
    Fact,
    Profile,
    evaluate,
    evaluate_taxpayer,
)
from hypothesis import given, settings
from hypothesis import strategies as st

CAT = load_catalogue()
T1 = "91350100M000100Y43"  # the worked example of GB 32100-2015 (S10), check char 3
D = dt.date
DOCS = Path(__file__).resolve().parents[2] / "docs" / "CREDIT.md"


def fact(record: str, code: str, day: dt.date, amount: float = 0.0, refers: str = "") -> Fact:
    return Fact(T1, code, day, record, amount, refers)


EXAMPLE = [
    fact("F1", "010101", D(2025, 3, 16), 1500),
    fact("F2", "010101", D(2025, 3, 20), 300),
    fact("F3", "010101", D(2025, 5, 16), 8000),
    fact("F4", "010103", D(2025, 6, 30)),
    fact("F5", "010106", D(2025, 8, 10)),
    fact("R1", REPAIR, D(2025, 5, 30), refers="F3"),
    fact("R2", REPAIR, D(2025, 7, 2), refers="F4"),
    fact("P1", APPEAL, D(2025, 11, 20), refers="F5"),
]


def test_uscc_check_character_and_errors() -> None:
    assert uscc.check_character("91350100M000100Y4") == "3"
    assert uscc.validate(" 91350100m000100y43 ") == T1
    with pytest.raises(uscc.InvalidTaxpayerId, match="should be '3'"):
        uscc.validate("91350100M000100Y44")
    with pytest.raises(uscc.InvalidTaxpayerId, match="18 characters"):
        uscc.validate("9135")
    with pytest.raises(uscc.InvalidTaxpayerId, match=r"\['I'\]"):
        uscc.validate("91350100M000100YI3")
    assert uscc.division(T1) == "350100"


def test_worked_example_final_and_running() -> None:
    """docs/CREDIT.md, example 1: the same numbers as the table there."""
    final = evaluate_taxpayer(T1, EXAMPLE, CAT, 2025)
    assert [(d.code, d.record, d.points, d.restored) for d in final.deductions] == [
        ("010101", "F1", 5.0, 0.0),
        ("010101", "F3", 5.0, 4.0),
        ("010103", "F4", 3.0, 3.0),
    ]
    assert final.deductions[0].also == ("F2",)  # the same month counts once
    assert (final.score, final.grade, final.withdrawn) == (94.0, "A", ("F5",))
    assert not final.provisional
    june = evaluate_taxpayer(T1, EXAMPLE, CAT, 2025, as_of=D(2025, 6, 30))
    assert (june.score, june.grade, june.provisional) == (91.0, "A", True)
    august = evaluate_taxpayer(T1, EXAMPLE, CAT, 2025, as_of=D(2025, 8, 31))
    assert (august.score, august.grade) == (83.0, "B")


def test_worked_example_matches_the_docs() -> None:
    """The docs table states the scores the code gives (the docs cannot drift)."""
    text = DOCS.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| as of (\S+) \| [^|]* \| ([\d.]+) \S* \|", text, re.M))
    assert rows == {"2025-06-30": "91.00", "2025-08-31": "83.00", "2025-12-31": "94.00"}


def test_direct_d_and_its_repair() -> None:
    """Example 2: an abnormal-taxpayer direct D, lifted by a repair: at best B."""
    facts = [fact("X1", "D09", D(2025, 9, 1))]
    assert evaluate_taxpayer(T1, facts, CAT, 2025).grade == "D"
    lifted = evaluate_taxpayer(
        T1, [*facts, fact("R9", REPAIR, D(2026, 3, 1), refers="X1")], CAT, 2025
    )
    assert (lifted.score, lifted.grade, lifted.lifted) == (100.0, "B", ("X1",))
    # a direct D that is not repairable stays, and the ignored repair says why
    tax = [fact("X2", "D03", D(2025, 9, 1)), fact("R8", REPAIR, D(2025, 9, 9), refers="X2")]
    r = evaluate_taxpayer(T1, tax, CAT, 2025)
    assert r.grade == "D" and any("cannot be repaired" in i for i in r.ignored)
    # an upheld appeal lifts any direct D completely
    appealed = evaluate_taxpayer(
        T1, [*tax, fact("P2", APPEAL, D(2025, 10, 1), refers="X2")], CAT, 2025
    )
    assert appealed.grade == "D"  # the repair came first: corrections count once
    only_appeal = evaluate_taxpayer(
        T1, [tax[0], fact("P2", APPEAL, D(2025, 10, 1), refers="X2")], CAT, 2025
    )
    assert (only_appeal.grade, only_appeal.score) == ("A", 100.0)


def test_planted_boundaries_and_m() -> None:
    on_90 = [fact("a", "010101", D(2025, 1, 20)), fact("b", "010101", D(2025, 2, 20))]
    assert evaluate_taxpayer(T1, on_90, CAT, 2025).grade == "A"  # 90 exactly is A
    below = [*on_90, fact("c", "010301", D(2025, 3, 1))]
    assert evaluate_taxpayer(T1, below, CAT, 2025).score == 89.0
    missing = Profile(T1, nonrecurring_missing_years=frozenset({2025}))
    on_70 = [fact("d", "010106", D(2025, 4, 1))] + [
        fact(f"e{n}", "010103", D(2025, 4, 2 + n)) for n in range(3)
    ]
    r70 = evaluate_taxpayer(T1, on_70, CAT, 2025, profile=missing)
    assert (r70.start, r70.score, r70.grade) == (90.0, 70.0, "B")
    r69 = evaluate_taxpayer(
        T1, [*on_70, fact("f", "010301", D(2025, 5, 1))], CAT, 2025, profile=missing
    )
    assert (r69.score, r69.grade) == (69.0, "C")
    new = Profile(T1, established=D(2025, 4, 1))
    assert evaluate_taxpayer(T1, on_70, CAT, 2025, profile=new).grade == "M"
    no_income = Profile(T1, no_income_years=frozenset({2025}))
    assert evaluate_taxpayer(T1, on_70, CAT, 2025, profile=no_income).grade == "M"  # 80
    assert evaluate_taxpayer(T1, [*on_70, *below], CAT, 2025, profile=no_income).grade == "C"
    new_d = [fact("x", "D05", D(2025, 6, 1))]
    assert evaluate_taxpayer(T1, new_d, CAT, 2025, profile=new).grade == "D"


def test_capped_and_fixed_rules() -> None:
    six = [fact(f"s{n}", "L02", D(2025, 1, 1 + n)) for n in range(3)]  # 3 points, cap 6
    r = evaluate_taxpayer(T1, six, CAT, 2025)
    assert [d.points for d in r.deductions] == [3.0, 3.0, 0.0] and r.score == 94.0
    fixed = [fact(f"k{n}", "N-BANKACCT", D(2025, 2 + n, 1)) for n in range(3)]
    assert evaluate_taxpayer(T1, fixed, CAT, 2025).score == 95.0


def test_bad_facts_are_refused() -> None:
    with pytest.raises(CreditError, match="unknown indicator code 'nope'"):
        evaluate([fact("a", "nope", D(2025, 1, 1))], CAT, 2025)
    with pytest.raises(CreditError, match="names the record"):
        evaluate([fact("a", REPAIR, D(2025, 1, 1))], CAT, 2025)
    with pytest.raises(CreditError, match="same record id twice"):
        evaluate([fact("a", "010101", D(2025, 1, 1))] * 2, CAT, 2025)


# ------------------------------------------------------------------ properties
SCORED = [c for c, i in CAT.indicators.items() if not i.direct_d]
DIRECT = [c for c, i in CAT.indicators.items() if i.direct_d]
days = st.dates(D(2025, 1, 1), D(2025, 12, 31))


@st.composite
def fact_sets(draw: st.DrawFn) -> list[Fact]:
    n = draw(st.integers(0, 25))
    out: list[Fact] = []
    for k in range(n):
        code = draw(st.sampled_from(SCORED + DIRECT[:3]))
        out.append(fact(f"f{k}", code, draw(days), draw(st.sampled_from([0, 500, 5000]))))
    for k in range(draw(st.integers(0, 6))):
        if not out:
            break
        target = draw(st.sampled_from(out))
        when = target.date + dt.timedelta(days=draw(st.integers(0, 200)))
        out.append(
            fact(f"c{k}", draw(st.sampled_from([REPAIR, APPEAL])), when, refers=target.record)
        )
    return out


@settings(max_examples=150, deadline=None)
@given(fact_sets(), st.sampled_from(SCORED), days, st.randoms(use_true_random=False))
def test_properties(facts: list[Fact], code: str, day: dt.date, rnd: object) -> None:
    base = evaluate_taxpayer(T1, facts, CAT, 2025)
    start = CAT.scoring.start_full
    assert CAT.scoring.floor <= base.score <= start
    # the order of the facts does not matter
    shuffled = list(facts)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert evaluate_taxpayer(T1, shuffled, CAT, 2025) == base
    # one more deduction never raises the score
    more = evaluate_taxpayer(T1, [*facts, fact("new", code, day)], CAT, 2025)
    assert more.score <= base.score
    # a standing direct D always gives D
    with_d = evaluate_taxpayer(T1, [*facts, fact("dd", "D01", day)], CAT, 2025)
    assert with_d.grade == "D"
    # the grade follows the score when no direct D or M applies
    if not base.direct_d and not base.lifted:
        s = CAT.scoring
        want = "A" if base.score >= s.grade_a else "B" if base.score >= s.grade_b else "C"
        assert base.grade == (want if base.score >= s.grade_c else "D")
    # an appeal of a fact equals never having had it (when nothing corrected it yet)
    plain = [f for f in facts if f.code not in (REPAIR, APPEAL)]
    if plain:
        target = plain[0]
        kept = [f for f in facts if target.record not in (f.record, f.refers_to)]
        undone = [*kept, target, fact("ap", APPEAL, target.date, refers=target.record)]
        a = evaluate_taxpayer(T1, undone, CAT, 2025)
        b = evaluate_taxpayer(T1, kept, CAT, 2025)
        assert (a.score, a.grade, a.deductions) == (b.score, b.grade, b.deductions)
    # the running score only falls as facts arrive, corrections aside
    if all(f.code not in (REPAIR, APPEAL) for f in facts):
        june = evaluate_taxpayer(T1, facts, CAT, 2025, as_of=D(2025, 6, 30))
        assert june.score >= base.score and june.provisional
