"""``hallkpi credit`` over a real chDB store, in a subprocess (chDB opens one data
directory per process; the store tests of tests/ingest own this process's): a
generated population with planted cases, imported from CSV and Parquet, evaluated,
explained, counted by county and published."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from hallkpi.core.credit.catalogue import load_catalogue
from hallkpi.core.credit.evaluate import evaluate, grade_counts
from hallkpi.ingest.credit import publish
from hallkpi.ingest.credit.sample import PLANTED_GRADES, Sample, generate

YEAR = 2025


def hallkpi(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hallkpi.core.cli", "credit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def write_exports(s: Sample, folder: Path) -> tuple[Path, Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    tax = folder / "taxpayers.csv"
    with tax.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "taxpayer",
                "name",
                "legal_rep",
                "county",
                "industry",
                "established",
                "no_income_years",
                "nonrecurring_missing_years",
            ]
        )
        for p in s.profiles:
            w.writerow(
                [
                    p.taxpayer,
                    p.name,
                    p.legal_rep,
                    p.county,
                    p.industry,
                    p.established or "",
                    ";".join(map(str, sorted(p.no_income_years))),
                    ";".join(map(str, sorted(p.nonrecurring_missing_years))),
                ]
            )
    facts = folder / "facts.parquet"
    pl.DataFrame(
        {
            "taxpayer": [f.taxpayer for f in s.facts],
            "code": [f.code for f in s.facts],
            "date": [f.date for f in s.facts],
            "record": [f.record for f in s.facts],
            "amount": [float(f.amount) for f in s.facts],
            "refers_to": [f.refers_to for f in s.facts],
            "main_facts": [
                s.details[f.record].main_facts if f.record in s.details else "" for f in s.facts
            ],
            "legal_basis": [
                s.details[f.record].legal_basis if f.record in s.details else "" for f in s.facts
            ],
            "penalty": [
                s.details[f.record].penalty if f.record in s.details else "" for f in s.facts
            ],
        }
    ).write_parquet(facts)
    bad = folder / "bad.csv"
    t = s.profiles[0].taxpayer
    bad.write_text(
        "taxpayer,code,date,record,amount\n"
        f"{t[:-1]}{'0' if t[-1] != '0' else '1'},010101,2025-01-01,B1,\n"  # check character
        f"{t},999999,2025-01-01,B2,\n"  # unknown code
        f"{t},010101,2025-13-01,B3,\n"  # bad date
        f"{t},010101,2025-01-01,B4,-5\n",  # negative amount
        encoding="utf-8",
    )
    return tax, facts, bad


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("credit")
    s = generate(240, YEAR, seed=7)
    tax, facts, bad = write_exports(s, root / "in")
    env = {**os.environ, "HALLKPI_STORE": f"chdb://{root / 'store'}?database=credit"}
    out: dict[str, object] = {"sample": s, "env": env, "root": root}
    out["import"] = hallkpi(env, "import", str(tax), str(facts), str(bad))
    out["import_again"] = hallkpi(env, "import", str(facts))  # idempotent
    out["evaluate"] = hallkpi(env, "evaluate", "--year", str(YEAR))
    out["grades"] = hallkpi(env, "grades", "--year", str(YEAR), "--json")
    out["publish"] = hallkpi(
        env, "publish", "--year", str(YEAR), "--out", str(root / "pub"), "--on", "2026-05-01"
    )
    return out


def ok(p: object) -> str:
    assert isinstance(p, subprocess.CompletedProcess)
    assert p.returncode == 0, p.stderr[-3000:]
    return str(p.stdout)


def test_import_counts_refusals_by_reason(run: dict[str, object]) -> None:
    s = run["sample"]
    assert isinstance(s, Sample)
    lines = ok(run["import"]).splitlines()
    assert lines[0].endswith(f"taxpayers, {len(s.profiles)} imported, 0 refused")
    assert lines[1].endswith(f"facts, {len(s.facts)} imported, 0 refused")
    assert lines[2].endswith(
        "facts, 0 imported, 4 refused (bad amount 1, bad date 1, bad taxpayer 1, unknown code 1)"
    )
    assert "should be" in str(run["import"].stderr)  # type: ignore[attr-defined]


def test_stored_grades_equal_the_pure_evaluation(run: dict[str, object]) -> None:
    s = run["sample"]
    assert isinstance(s, Sample)
    want = grade_counts(
        evaluate(
            s.facts, load_catalogue(), YEAR, profiles={p.taxpayer: p for p in s.profiles}
        ).values()
    )
    assert ok(run["evaluate"]).startswith(
        f"{YEAR} (final, city): {len(s.profiles)} taxpayers, "
        + ", ".join(f"{g} {n}" for g, n in want.items())
    )
    by_county = json.loads(ok(run["grades"]))
    total: Counter[str] = Counter()
    for counts in by_county.values():
        total.update(counts)
    assert dict(total) == want  # the re-import did not double anything
    assert set(by_county) == {p.county for p in s.profiles}


def test_planted_cases_get_the_hand_calculated_grades(run: dict[str, object]) -> None:
    s, env = run["sample"], run["env"]
    assert isinstance(s, Sample) and isinstance(env, dict)
    for name, taxpayer in s.planted.items():
        doc = json.loads(ok(hallkpi(env, "explain", taxpayer, "--year", str(YEAR), "--json")))
        assert doc["grade"] == PLANTED_GRADES[name], (name, doc)
    on_70 = json.loads(ok(hallkpi(env, "explain", s.planted["on_70"], "--year", "2025", "--json")))
    assert (on_70["start"], on_70["score"]) == (90.0, 70.0)
    assert [d["points"] for d in on_70["deductions"]] == [11.0, 3.0, 3.0, 3.0]


def test_county_scope(run: dict[str, object]) -> None:
    s, env = run["sample"], run["env"]
    assert isinstance(s, Sample) and isinstance(env, dict)
    county = s.profiles[0].county
    mine = [p for p in s.profiles if p.county == county]
    one = json.loads(ok(hallkpi(env, "grades", "--year", "2025", "--county", county, "--json")))
    assert list(one) == [county] and sum(one[county].values()) == len(mine)
    city = json.loads(ok(run["grades"]))
    assert one[county] == city[county]
    other = next(p for p in s.profiles if p.county != county)
    refused = hallkpi(env, "explain", other.taxpayer, "--year", "2025", "--county", county)
    assert refused.returncode == 2 and "is not a taxpayer of county" in refused.stderr


def test_publication_files(run: dict[str, object]) -> None:
    s, root = run["sample"], run["root"]
    assert isinstance(s, Sample) and isinstance(root, Path)
    ok(run["publish"])
    pub = root / "pub"
    doc = json.loads((pub / "blacklist_2026-05-01.json").read_text("utf-8"))
    assert doc["fields"] == list(publish.PUBLISHED_FIELDS)
    assert [e["code"] for e in doc["entries"]] == [s.planted["published"]]
    assert all(set(e) == set(publish.PUBLISHED_FIELDS) for e in doc["entries"])
    entry = doc["entries"][0]
    assert (entry["period_from"], entry["period_to"]) == ("2025-07-10", "2028-07-10")
    with (pub / "blacklist_2026-05-01.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == doc["entries"]
    removed = json.loads((pub / "blacklist_removed_2026-05-01.json").read_text("utf-8"))
    assert [(e["code"], e["reason"]) for e in removed["entries"]] == [
        (s.planted["publication_repaired"], "repair")
    ]
    a_list = json.loads((pub / f"a_grade_{YEAR}.json").read_text("utf-8"))
    assert s.planted["on_90"] in {e["code"] for e in a_list["entries"]}
    assert all(e["grade"] == "A" for e in a_list["entries"])
    # after its period the case is taken down as expired
    later = hallkpi(
        run["env"],
        "publish",
        "--year",
        "2025",
        "--out",
        str(pub / "later"),  # type: ignore[arg-type]
        "--on",
        "2028-07-10",
    )
    ok(later)
    gone = json.loads((pub / "later" / "blacklist_2028-07-10.json").read_text("utf-8"))
    assert gone["entries"] == []
    expired = json.loads((pub / "later" / "blacklist_removed_2028-07-10.json").read_text("utf-8"))
    assert (s.planted["published"], "expired") in {
        (e["code"], e["reason"]) for e in expired["entries"]
    }
