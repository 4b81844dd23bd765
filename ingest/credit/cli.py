"""``hallkpi credit``: taxpayer credit over the store (docs/CREDIT.md).

    hallkpi credit import FILE...          facts or taxpayer profiles, CSV or Parquet
    hallkpi credit evaluate --year 2025    evaluate and store the results (--as-of: running)
    hallkpi credit explain TAXPAYER --year 2025   score, grade and every deduction
    hallkpi credit grades --year 2025      grade counts per county (stored results)
    hallkpi credit publish --year 2025 --out DIR  A-grade list, blacklist, removals

``--county CODE`` limits any of them to one county's taxpayers (the city sees all).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from hallkpi.core.credit import uscc
from hallkpi.core.credit.catalogue import Catalogue, load_catalogue
from hallkpi.core.credit.evaluate import CreditError, evaluate_taxpayer
from hallkpi.core.errors import CommandError
from hallkpi.ingest.credit import publish as pub
from hallkpi.ingest.credit import store as cs
from hallkpi.ingest.credit.ops import evaluate_store, import_files, publish_store
from hallkpi.ingest.store.cli_options import add_store_options, store_from_args
from hallkpi.ingest.store.schema import ensure_schema

GRADES = ("A", "B", "M", "C", "D")


def _catalogue(args: argparse.Namespace) -> Catalogue:
    return load_catalogue(
        Path(args.national) if args.national else None, Path(args.local) if args.local else None
    )


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is no YYYY-MM-DD date") from None


def run_import(args: argparse.Namespace) -> int:
    cat = _catalogue(args)
    refused = 0
    with store_from_args(args) as store:
        ensure_schema(store)
        for parsed in import_files(store, [Path(n) for n in args.files], cat):
            bad = sum(parsed.refused.values())
            refused += bad
            why = ", ".join(f"{r} {n}" for r, n in sorted(parsed.refused.items()))
            print(
                f"{parsed.path}: {parsed.kind}, {parsed.accepted} imported, {bad} refused"
                + (f" ({why})" if why else "")
            )
            for line in parsed.examples:
                print(f"  refused {line}", file=sys.stderr)
    return 1 if refused and args.strict else 0


def run_evaluate(args: argparse.Namespace) -> int:
    cat = _catalogue(args)
    with store_from_args(args) as store:
        ensure_schema(store)
        counts = evaluate_store(store, cat, args.year, county=args.county, as_of=_date(args.as_of))
    scope = f"county {args.county}" if args.county else "city"
    kind = f"running as of {args.as_of}" if args.as_of else "final"
    print(
        f"{args.year} ({kind}, {scope}): {sum(counts.values())} taxpayers, "
        + ", ".join(f"{g} {counts[g]}" for g in GRADES)
    )
    return 0


def run_explain(args: argparse.Namespace) -> int:
    cat = _catalogue(args)
    try:
        tid = uscc.validate(args.taxpayer)
    except uscc.InvalidTaxpayerId as exc:
        raise CommandError(str(exc)) from exc
    with store_from_args(args) as store:
        ensure_schema(store)
        profiles = cs.read_profiles(store)
        if args.county and cs.county_of(tid, profiles.get(tid)) != args.county:
            raise CommandError(f"{tid} is not a taxpayer of county {args.county}")
        facts, _ = cs.read_facts(store, profiles, taxpayer=tid)
    try:
        r = evaluate_taxpayer(
            tid, facts, cat, args.year, profile=profiles.get(tid), as_of=_date(args.as_of)
        )
    except (CreditError, KeyError) as exc:
        raise CommandError(f"cannot evaluate {tid}: {exc}") from exc
    by_record = {f.record: f for f in facts}
    if args.json:
        print(json.dumps(_explain_doc(r, cat, by_record), ensure_ascii=False, indent=1))
        return 0
    p = profiles.get(tid)
    running = f" (running, as of {r.as_of})" if r.provisional else ""
    print(f"{tid} {p.name if p else ''}: {r.year}{running}")
    print(f"  start {r.start:.2f}, score {r.score:.2f}, grade {r.grade} ({r.reason})")
    for d in r.deductions:
        f = by_record[d.record]
        ind = cat[d.code]
        line = f"  -{d.points:.2f} {d.code} {ind.name_en} [{d.record} {f.date}"
        line += f", also {', '.join(d.also)}]" if d.also else "]"
        if d.restored:
            line += f" +{d.restored:.2f} by {d.repair}"
        if d.note:
            line += f" ({d.note})"
        print(line)
    for rec in r.direct_d:
        print(f"  direct D {by_record[rec].code} {cat[by_record[rec].code].name_en} [{rec}]")
    for rec in r.lifted:
        print(f"  lifted direct D {by_record[rec].code} [{rec}] by repair")
    for rec in r.withdrawn:
        print(f"  withdrawn by appeal: {rec}")
    for why in r.ignored:
        print(f"  ignored correction {why}")
    return 0


def _explain_doc(r: Any, cat: Catalogue, by_record: dict[str, Any]) -> dict[str, Any]:
    return {
        "taxpayer": r.taxpayer,
        "year": r.year,
        "as_of": r.as_of.isoformat(),
        "provisional": r.provisional,
        "start": r.start,
        "score": r.score,
        "grade": r.grade,
        "reason": r.reason,
        "deductions": [
            {
                "code": d.code,
                "name_zh": cat[d.code].name_zh,
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
        "direct_d": list(r.direct_d),
        "lifted": list(r.lifted),
        "withdrawn": list(r.withdrawn),
        "ignored": list(r.ignored),
    }


def run_grades(args: argparse.Namespace) -> int:
    with store_from_args(args) as store:
        ensure_schema(store)
        rows = cs.read_results(store, args.year, county=args.county, provisional=args.running)
    by_county: dict[str, Counter[str]] = {}
    for r in rows:
        by_county.setdefault(r.county, Counter())[r.grade] += 1
    if args.json:
        print(json.dumps({c: {g: n[g] for g in GRADES} for c, n in sorted(by_county.items())}))
        return 0
    print("county  " + "".join(f"{g:>7}" for g in GRADES) + "   total")
    total: Counter[str] = Counter()
    for county, n in sorted(by_county.items()):
        total.update(n)
        print(f"{county:8}" + "".join(f"{n[g]:7d}" for g in GRADES) + f"{sum(n.values()):8d}")
    print(f"{'all':8}" + "".join(f"{total[g]:7d}" for g in GRADES) + f"{sum(total.values()):8d}")
    return 0


def run_publish(args: argparse.Namespace) -> int:
    cat = _catalogue(args)
    day = _date(args.on) or dt.date.today()
    with store_from_args(args) as store:
        ensure_schema(store)
        n_a, n_cases, n_removed, paths = publish_store(
            store, cat, args.year, Path(args.out), day, county=args.county, years=args.years
        )
    print(
        f"A grade {args.year}: {n_a}, blacklist on {day}: {n_cases}, removed: {n_removed}; "
        f"wrote {', '.join(p.name for p in paths)}"
    )
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "credit",
        help="taxpayer credit: import facts, evaluate grades, explain, publish",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="credit_command", required=True, metavar="COMMAND")

    def common(q: argparse.ArgumentParser, *, year: bool = True) -> None:
        add_store_options(q)
        q.add_argument("--county", metavar="CODE", help="one county's taxpayers (default: city)")
        q.add_argument("--national", metavar="FILE", help="national catalogue (default: packaged)")
        q.add_argument("--local", metavar="FILE", help="local catalogue (default: packaged)")
        if year:
            q.add_argument("--year", type=int, required=True, help="evaluation year")

    q = sub.add_parser("import", help="import facts or taxpayer profiles (CSV, Parquet)")
    q.add_argument("files", nargs="+", metavar="FILE")
    q.add_argument("--strict", action="store_true", help="exit 1 when any row is refused")
    common(q, year=False)
    q.set_defaults(func=run_import)

    q = sub.add_parser("evaluate", help="evaluate a year and store the results")
    q.add_argument("--as-of", metavar="YYYY-MM-DD", help="running grade: facts up to this day")
    common(q)
    q.set_defaults(func=run_evaluate)

    q = sub.add_parser("explain", help="score, grade and every deduction of one taxpayer")
    q.add_argument("taxpayer", metavar="TAXPAYER")
    q.add_argument("--as-of", metavar="YYYY-MM-DD")
    q.add_argument("--json", action="store_true")
    common(q)
    q.set_defaults(func=run_explain)

    q = sub.add_parser("grades", help="grade counts per county of the stored results")
    q.add_argument("--running", action="store_true", help="include running (provisional) results")
    q.add_argument("--json", action="store_true")
    common(q)
    q.set_defaults(func=run_grades)

    q = sub.add_parser("publish", help="A-grade list, blacklist and removals as CSV and JSON")
    q.add_argument("--out", required=True, metavar="DIR")
    q.add_argument("--on", metavar="YYYY-MM-DD", help="publication day (default: today)")
    q.add_argument(
        "--years",
        type=int,
        default=pub.DEFAULT_YEARS,
        help="publication period in years (default 3; unsourced, see docs)",
    )
    common(q)
    q.set_defaults(func=run_publish)
