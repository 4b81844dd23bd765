"""The indicator catalogue: versioned TOML files in this package, loaded and checked.

``load_catalogue()`` reads the packaged ``catalogue/national.toml`` and
``catalogue/local.toml``; either may be replaced by a bureau's own file (``national=``,
``local=`` paths). Every problem raises :class:`CatalogueError` naming the file, the
indicator and the key, so a bureau that edits data sees what to fix.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hallkpi.core.errors import ConfigError

CATEGORIES = ("registration", "filing", "payment", "invoices", "accounts", "inspection", "external")
"""Internal categories (登记, 申报, 缴纳, 发票, 账簿, 配合检查) and external (外部信息)."""
RULES = ("fixed", "per_occurrence", "per_month", "capped", "direct_d")
PERIODS = ("year",)
GRADES = ("A", "B", "M", "C", "D")


class CatalogueError(ConfigError):
    """A catalogue file is wrong; the message names the file, indicator and key."""


@dataclass(frozen=True)
class RepairTier:
    """Points a repair restores when the correction comes within ``within_days`` of the
    fact (None: any later time); above ``amount_above`` yuan ``points_above`` instead."""

    within_days: int | None
    points: float
    amount_above: float | None = None
    points_above: float | None = None

    def restores(self, amount: float) -> float:
        if self.amount_above is not None and amount > self.amount_above:
            return self.points_above if self.points_above is not None else self.points
        return self.points


@dataclass(frozen=True)
class Indicator:
    code: str
    level: int
    parent: str
    name_zh: str
    name_en: str
    category: str
    rule: str
    points: float
    cap: float | None
    period: str
    sourced: bool
    source: str
    repair: tuple[RepairTier, ...]
    repairable: bool
    publish: bool
    catalogue: str

    @property
    def direct_d(self) -> bool:
        return self.rule == "direct_d"


@dataclass(frozen=True)
class Scoring:
    start_full: float = 100.0
    start_nonrecurring_missing: float = 90.0
    floor: float = 0.0
    grade_a: float = 90.0
    grade_b: float = 70.0
    grade_c: float = 40.0
    no_income_m_min_score: float = 70.0
    repaired_direct_d_max_grade: str = "B"


@dataclass(frozen=True)
class Catalogue:
    """National and local indicators by code, with the scoring rules of the national
    file and the version of each file."""

    indicators: Mapping[str, Indicator]
    scoring: Scoring
    versions: Mapping[str, str]

    def __getitem__(self, code: str) -> Indicator:
        return self.indicators[code]

    def __contains__(self, code: object) -> bool:
        return code in self.indicators

    def __len__(self) -> int:
        return len(self.indicators)

    def by_catalogue(self, name: str) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.catalogue == name]


_INDICATOR_KEYS = {
    "code",
    "level",
    "parent",
    "name_zh",
    "name_en",
    "category",
    "rule",
    "points",
    "cap",
    "period",
    "sourced",
    "source",
    "repair",
    "repairable",
    "publish",
}
_REQUIRED = ("code", "level", "name_zh", "name_en", "category", "rule", "period", "sourced")


def _number(where: str, key: str, value: object, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CatalogueError(f"{where}: {key} must be a number, not {value!r}")
    if value < minimum:
        raise CatalogueError(f"{where}: {key} must be >= {minimum}, not {value}")
    return float(value)


def _tiers(where: str, raw: object, points: float) -> tuple[RepairTier, ...]:
    if not isinstance(raw, list):
        raise CatalogueError(f"{where}: repair must be a list of tiers")
    out: list[RepairTier] = []
    last = -1
    for n, tier in enumerate(raw):
        w = f"{where} repair[{n}]"
        if not isinstance(tier, dict):
            raise CatalogueError(f"{w}: a tier is a table {{within_days, points}}")
        unknown = set(tier) - {"within_days", "points", "amount_above", "points_above"}
        if unknown:
            raise CatalogueError(f"{w}: unknown keys {sorted(unknown)}")
        days = tier.get("within_days")
        if days is not None:
            if isinstance(days, bool) or not isinstance(days, int) or days <= last:
                raise CatalogueError(f"{w}: within_days must be whole days, increasing")
            last = days
        elif n != len(raw) - 1:
            raise CatalogueError(f"{w}: only the last tier may omit within_days")
        if "points" not in tier:
            raise CatalogueError(f"{w}: points is missing")
        p = _number(w, "points", tier["points"])
        above = tier.get("amount_above")
        p_above = tier.get("points_above")
        if (above is None) != (p_above is None):
            raise CatalogueError(f"{w}: amount_above and points_above go together")
        t = RepairTier(
            days,
            p,
            None if above is None else _number(w, "amount_above", above),
            None if p_above is None else _number(w, "points_above", p_above),
        )
        if max(t.points, t.points_above or 0.0) > points:
            raise CatalogueError(f"{w}: a repair may not restore more than the {points} deducted")
        out.append(t)
    return tuple(out)


def _indicator(where: str, raw: object, catalogue: str) -> Indicator:
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: an indicator is a table")
    code = raw.get("code")
    if not isinstance(code, str) or not code.strip() or code != code.strip():
        raise CatalogueError(f"{where}: code must be a non-empty string without spaces")
    where = f"{where} ({code})"
    unknown = set(raw) - _INDICATOR_KEYS
    if unknown:
        raise CatalogueError(
            f"{where}: unknown keys {sorted(unknown)} (known: {sorted(_INDICATOR_KEYS)})"
        )
    for key in _REQUIRED:
        if key not in raw:
            raise CatalogueError(f"{where}: {key} is missing")
    for key in ("name_zh", "name_en", "source", "parent"):
        if key in raw and not isinstance(raw[key], str):
            raise CatalogueError(f"{where}: {key} must be a string")
    if not raw["name_zh"] or not raw["name_en"]:
        raise CatalogueError(f"{where}: name_zh and name_en may not be empty")
    level = raw["level"]
    if isinstance(level, bool) or level not in (1, 2, 3):
        raise CatalogueError(f"{where}: level must be 1, 2 or 3")
    if raw["category"] not in CATEGORIES:
        raise CatalogueError(f"{where}: category {raw['category']!r} is not one of {CATEGORIES}")
    rule = raw["rule"]
    if rule not in RULES:
        raise CatalogueError(f"{where}: rule {rule!r} is not one of {RULES}")
    if raw["period"] not in PERIODS:
        raise CatalogueError(f"{where}: period {raw['period']!r} is not one of {PERIODS}")
    for key in ("sourced", "repairable", "publish"):
        if key in raw and not isinstance(raw[key], bool):
            raise CatalogueError(f"{where}: {key} must be true or false")
    if raw["sourced"] and not raw.get("source"):
        raise CatalogueError(f"{where}: a sourced indicator names its source")
    if rule == "direct_d":
        for key in ("points", "cap", "repair"):
            if key in raw:
                raise CatalogueError(f"{where}: a direct_d indicator has no {key}")
        points, cap = 0.0, None
        tiers: tuple[RepairTier, ...] = ()
        repairable = bool(raw.get("repairable", False))
    else:
        if "points" not in raw:
            raise CatalogueError(f"{where}: points is missing")
        points = _number(where, "points", raw["points"])
        if points <= 0:
            raise CatalogueError(f"{where}: points must be > 0")
        cap = None
        if rule == "capped":
            if "cap" not in raw:
                raise CatalogueError(f"{where}: a capped indicator needs cap")
            cap = _number(where, "cap", raw["cap"])
            if cap < points:
                raise CatalogueError(f"{where}: cap must be >= points")
        elif "cap" in raw:
            raise CatalogueError(f"{where}: cap is only for rule = 'capped'")
        if "repairable" in raw:
            raise CatalogueError(f"{where}: repairable is for direct_d; scored ones use repair")
        tiers = _tiers(where, raw.get("repair", []), points)
        repairable = bool(tiers)
    return Indicator(
        code=code,
        level=int(level),
        parent=str(raw.get("parent", "")),
        name_zh=raw["name_zh"],
        name_en=raw["name_en"],
        category=raw["category"],
        rule=rule,
        points=points,
        cap=cap,
        period=raw["period"],
        sourced=raw["sourced"],
        source=str(raw.get("source", "")),
        repair=tiers,
        repairable=repairable,
        publish=bool(raw.get("publish", False)),
        catalogue=catalogue,
    )


def _scoring(where: str, doc: Mapping[str, Any]) -> Scoring:
    s = doc.get("scoring", {})
    g = doc.get("grades", {})
    if not isinstance(s, dict) or not isinstance(g, dict):
        raise CatalogueError(f"{where}: [scoring] and [grades] must be tables")
    known_s = {"start_full", "start_nonrecurring_missing", "floor"}
    known_g = {"A", "B", "C", "no_income_m_min_score", "repaired_direct_d_max_grade"}
    if set(s) - known_s or set(g) - known_g:
        bad = sorted((set(s) - known_s) | (set(g) - known_g))
        raise CatalogueError(f"{where}: unknown scoring/grades keys {bad}")
    d = Scoring()
    out = Scoring(
        start_full=_number(where, "scoring.start_full", s.get("start_full", d.start_full)),
        start_nonrecurring_missing=_number(
            where,
            "scoring.start_nonrecurring_missing",
            s.get("start_nonrecurring_missing", d.start_nonrecurring_missing),
        ),
        floor=_number(where, "scoring.floor", s.get("floor", d.floor)),
        grade_a=_number(where, "grades.A", g.get("A", d.grade_a)),
        grade_b=_number(where, "grades.B", g.get("B", d.grade_b)),
        grade_c=_number(where, "grades.C", g.get("C", d.grade_c)),
        no_income_m_min_score=_number(
            where, "grades.no_income_m_min_score", g.get("no_income_m_min_score", 70)
        ),
        repaired_direct_d_max_grade=str(g.get("repaired_direct_d_max_grade", "B")),
    )
    if not out.grade_a > out.grade_b > out.grade_c > out.floor:
        raise CatalogueError(f"{where}: grades must be A > B > C > floor")
    if out.start_nonrecurring_missing > out.start_full:
        raise CatalogueError(f"{where}: start_nonrecurring_missing must be <= start_full")
    if out.repaired_direct_d_max_grade not in ("A", "B", "C"):
        raise CatalogueError(f"{where}: repaired_direct_d_max_grade must be A, B or C")
    return out


def _read(source: Path | None, packaged: str) -> tuple[str, dict[str, Any]]:
    if source is None:
        where = f"hallkpi.core.credit/catalogue/{packaged}"
        text = (
            resources.files("hallkpi.core.credit")
            .joinpath("catalogue", packaged)
            .read_text(encoding="utf-8")
        )
    else:
        where = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise CatalogueError(f"{where}: cannot read ({exc.strerror})") from exc
    try:
        return where, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{where}: not valid TOML: {exc}") from exc


def _header(where: str, doc: Mapping[str, Any], expect: str) -> str:
    head = doc.get("catalogue")
    if not isinstance(head, dict):
        raise CatalogueError(f"{where}: the [catalogue] table is missing")
    if head.get("id") != expect:
        raise CatalogueError(f"{where}: [catalogue] id must be {expect!r}, not {head.get('id')!r}")
    version = head.get("version")
    if not isinstance(version, str) or not version:
        raise CatalogueError(f"{where}: [catalogue] version must be a non-empty string")
    if not isinstance(head.get("effective_from"), dt.date):
        raise CatalogueError(f"{where}: [catalogue] effective_from must be a date")
    return version


def _indicators(where: str, doc: Mapping[str, Any], catalogue: str) -> list[Indicator]:
    raw = doc.get("indicator", [])
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(f"{where}: no [[indicator]] entries")
    return [_indicator(f"{where} indicator[{n}]", r, catalogue) for n, r in enumerate(raw)]


def load_catalogue(national: Path | None = None, local: Path | None = None) -> Catalogue:
    """The national and local catalogues, checked (packaged files unless paths given)."""
    n_where, n_doc = _read(national, "national.toml")
    l_where, l_doc = _read(local, "local.toml")
    versions = {
        "national": _header(n_where, n_doc, "national"),
        "local": _header(l_where, l_doc, "local"),
    }
    if "scoring" in l_doc or "grades" in l_doc:
        raise CatalogueError(f"{l_where}: scoring and grades belong to the national file")
    scoring = _scoring(n_where, n_doc)
    by_code: dict[str, Indicator] = {}
    for where, items in (
        (n_where, _indicators(n_where, n_doc, "national")),
        (l_where, _indicators(l_where, l_doc, "local")),
    ):
        for ind in items:
            if ind.catalogue == "local" and not ind.code.startswith("L"):
                raise CatalogueError(f"{where} ({ind.code}): local codes start with 'L'")
            if ind.code in by_code:
                raise CatalogueError(f"{where} ({ind.code}): code defined twice")
            by_code[ind.code] = ind
    return Catalogue(by_code, scoring, versions)


def codes(items: Sequence[Indicator]) -> list[str]:
    return [i.code for i in items]
