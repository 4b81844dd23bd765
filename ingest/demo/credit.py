"""The credit part of ``hallkpi demo``: a generated taxpayer population (with planted
cases) written as CSV exports, imported into the demo's chDB (database ``credit``),
evaluated (final and running as of 30 June), published; the grade counts per county
and the planted cases are printed. See docs/CREDIT.md."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hallkpi.core.credit.catalogue import load_catalogue
from hallkpi.ingest.credit import store as cs
from hallkpi.ingest.credit.ops import evaluate_store, import_files, publish_store
from hallkpi.ingest.credit.sample import PLANTED_GRADES, generate, write_csv
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.schema import ensure_schema
from rich.console import Console
from rich.table import Table

GRADES = ("A", "B", "M", "C", "D")


@dataclass
class CreditDemo:
    taxpayers: int = 0
    facts: int = 0
    grades: dict[str, int] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)
    planted_ok: int = 0
    planted: int = 0
    blacklist: int = 0
    removed: int = 0
    folder: str = ""


def run_credit_demo(
    store_dir: Path, folder: Path, console: Console, *, taxpayers: int = 2000, year: int = 2025
) -> CreditDemo:
    sample = generate(taxpayers, year)
    paths = write_csv(sample, folder / "exports")
    cat = load_catalogue()
    out = CreditDemo(folder=str(folder))
    with Store(f"chdb://{store_dir}?database=credit") as store:
        ensure_schema(store)
        parsed = import_files(store, list(paths), cat)
        out.taxpayers = sum(len(p.profiles) for p in parsed)
        out.facts = sum(len(p.facts) for p in parsed)
        out.running = evaluate_store(store, cat, year, as_of=dt.date(year, 6, 30))
        out.grades = evaluate_store(store, cat, year)
        results = {r.taxpayer: r for r in cs.read_results(store, year)}
        _, out.blacklist, out.removed, _ = publish_store(
            store, cat, year, folder / "publication", dt.date(year + 1, 5, 1)
        )
    by_county: dict[str, Counter[str]] = {}
    for r in results.values():
        by_county.setdefault(r.county, Counter())[r.grade] += 1
    table = Table(title=f"taxpayer credit {year}: grades by county", title_justify="left")
    for head in ("county", *GRADES, "total"):
        table.add_column(head, justify="left" if head == "county" else "right")
    for county, n in sorted(by_county.items()):
        table.add_row(county, *(str(n[g]) for g in GRADES), str(sum(n.values())))
    console.print(table)
    out.planted = len(sample.planted)
    out.planted_ok = sum(
        results[t].grade == PLANTED_GRADES[name] for name, t in sample.planted.items()
    )
    running = ", ".join(f"{g} {out.running[g]}" for g in GRADES)
    console.print(
        f"credit: {out.taxpayers:,} taxpayers, {out.facts:,} facts imported; running grades "
        f"as of {year}-06-30: {running}; planted cases graded as by hand: "
        f"{out.planted_ok}/{out.planted}; blacklist {out.blacklist} case(s), "
        f"{out.removed} removed after repair\n"
        f"        files   {folder}/publication (A list, blacklist, removals; CSV + JSON)\n"
        f"        explore hallkpi credit explain {sample.planted['repair_lifts']} --year {year} "
        f"--store 'chdb://{store_dir}?database=credit'",
        highlight=False,
        soft_wrap=True,
    )
    return out
