"""The credit operations over a store, shared by ``hallkpi credit`` and the demo:
import exports, evaluate a year in a scope, publish."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from hallkpi.core.credit.catalogue import Catalogue
from hallkpi.core.credit.evaluate import CreditError, evaluate, grade_counts
from hallkpi.core.errors import CommandError
from hallkpi.ingest.credit import publish as pub
from hallkpi.ingest.credit import store as cs
from hallkpi.ingest.credit.imports import Parsed, read_export
from hallkpi.ingest.store.connection import Store


def import_files(store: Store, paths: Sequence[Path], catalogue: Catalogue) -> list[Parsed]:
    """Reads and stores each export; the refusals are in each Parsed."""
    out = []
    for path in paths:
        parsed = read_export(path, catalogue)
        if parsed.kind == "facts":
            cs.insert_facts(store, parsed.facts, path.name, parsed.details)
        else:
            cs.insert_profiles(store, parsed.profiles)
        out.append(parsed)
    return out


def evaluate_store(
    store: Store,
    catalogue: Catalogue,
    year: int,
    *,
    county: str | None = None,
    as_of: dt.date | None = None,
) -> dict[str, int]:
    """Evaluates the facts in scope, stores the results, returns the grade counts."""
    profiles = cs.read_profiles(store)
    facts, _ = cs.read_facts(store, profiles, county=county)
    scoped = (
        profiles
        if county is None
        else {t: p for t, p in profiles.items() if cs.county_of(t, p) == county}
    )
    try:
        results = evaluate(facts, catalogue, year, profiles=scoped, as_of=as_of)
    except CreditError as exc:
        raise CommandError(str(exc)) from exc
    cs.insert_results(store, results.values(), profiles, catalogue.versions)
    return grade_counts(results.values())


def publish_store(
    store: Store,
    catalogue: Catalogue,
    year: int,
    out: Path,
    day: dt.date,
    *,
    county: str | None = None,
    years: int = pub.DEFAULT_YEARS,
) -> tuple[int, int, int, list[Path]]:
    """Writes the publication files: (A-grade count, cases, removals, paths)."""
    profiles = cs.read_profiles(store)
    results = cs.read_results(store, year, county=county)
    facts, details = cs.read_facts(store, profiles, county=county)
    cases, removed = pub.blacklist(facts, details, profiles, catalogue, day, years=years)
    a_list = pub.a_grade(results, profiles)
    paths = pub.write_publication(
        out, year=year, day=day, a_list=a_list, cases=cases, removed=removed, years=years
    )
    return len(a_list), len(cases), len(removed), paths
