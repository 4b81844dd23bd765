"""The packaged catalogues load, hold what the rules say, and a bad edit is refused
with a message naming the file, indicator and key."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest
from hallkpi.core.credit.catalogue import CATEGORIES, RULES, CatalogueError, load_catalogue


def packaged(name: str) -> str:
    return resources.files("hallkpi.core.credit").joinpath("catalogue", name).read_text("utf-8")


def test_both_packaged_files_validate() -> None:
    cat = load_catalogue()
    national, local = cat.by_catalogue("national"), cat.by_catalogue("local")
    assert len(national) == len(tomllib.loads(packaged("national.toml"))["indicator"])
    assert len(local) == len(tomllib.loads(packaged("local.toml"))["indicator"])
    assert cat.versions == {"national": "2025.07-partial", "local": "example-1"}
    for ind in cat.indicators.values():
        assert ind.category in CATEGORIES and ind.rule in RULES
        assert ind.name_zh and ind.name_en
        assert ind.sourced == bool(ind.sourced) and (ind.source or not ind.sourced)
    # the sourced figures (docs/CREDIT.md S2, S3, S7): late filing 5 a month, A from 90
    assert (cat["010101"].rule, cat["010101"].points) == ("per_month", 5.0)
    assert (cat["010103"].rule, cat["010103"].points) == ("per_occurrence", 3.0)
    assert [t.points for t in cat["010103"].repair] == [3.0, 2.4, 1.8, 1.2]
    assert (cat.scoring.grade_a, cat.scoring.grade_b, cat.scoring.grade_c) == (90, 70, 40)
    assert (cat.scoring.start_full, cat.scoring.start_nonrecurring_missing) == (100, 90)
    assert sum(i.direct_d for i in national) == 13  # art. 18 of the 2025 measures
    assert all(not i.sourced for i in local)  # nothing local is claimed as sourced
    assert cat["D09"].repairable and not cat["D01"].repairable


def write(tmp: Path, text: str) -> Path:
    p = tmp / "cat.toml"
    p.write_text(text, encoding="utf-8")
    return p


LOCAL_HEAD = (
    '[catalogue]\nid = "local"\nversion = "t"\neffective_from = 2025-07-01\n'
    '[[indicator]]\ncode = "L01"\nlevel = 3\nname_zh = "甲"\nname_en = "a"\n'
    'category = "external"\nperiod = "year"\nsourced = false\n'
)


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ('rule = "per_occurrence"\npoints = 3\n', None),
        ('rule = "sometimes"\npoints = 3\n', "rule 'sometimes' is not one of"),
        ('rule = "per_occurrence"\n', "points is missing"),
        ('rule = "capped"\npoints = 3\n', "needs cap"),
        ('rule = "capped"\npoints = 3\ncap = 2\n', "cap must be >= points"),
        ('rule = "direct_d"\npoints = 3\n', "a direct_d indicator has no points"),
        ('rule = "fixed"\npoints = 2\nrepair = [{ within_days = 3, points = 5 }]\n', "more than"),
        (
            'rule = "fixed"\npoints = 2\nrepair = [{ points = 1 }, { points = 1 }]\n',
            "only the last",
        ),
        ('rule = "fixed"\npoints = -1\n', "points must be >= 0"),
        ('rule = "fixed"\npoints = 1\ncolour = "red"\n', "unknown keys ['colour']"),
    ],
)
def test_bad_local_entries_are_refused(tmp_path: Path, tail: str, message: str | None) -> None:
    path = write(tmp_path, LOCAL_HEAD + tail)
    if message is None:
        assert "L01" in load_catalogue(local=path)
        return
    with pytest.raises(CatalogueError) as err:
        load_catalogue(local=path)
    assert message in str(err.value) and str(path) in str(err.value) and "(L01)" in str(err.value)


def test_local_codes_may_not_clash_or_take_national_codes(tmp_path: Path) -> None:
    clash = LOCAL_HEAD.replace('code = "L01"', 'code = "010101"') + 'rule = "fixed"\npoints = 1\n'
    with pytest.raises(CatalogueError, match="local codes start with 'L'"):
        load_catalogue(local=write(tmp_path, clash))
    twice = LOCAL_HEAD + 'rule = "fixed"\npoints = 1\n'
    twice += twice.split("\n", 4)[4]
    with pytest.raises(CatalogueError, match="code defined twice"):
        load_catalogue(local=write(tmp_path, twice))


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="not valid TOML"):
        load_catalogue(local=write(tmp_path, "[catalogue\n"))
    with pytest.raises(CatalogueError, match="id must be 'local'"):
        load_catalogue(local=write(tmp_path, LOCAL_HEAD.replace('"local"', '"national"')))
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(local=tmp_path / "absent.toml")
    bad_grades = packaged("national.toml").replace("A = 90", "A = 60")
    with pytest.raises(CatalogueError, match="A > B > C"):
        load_catalogue(national=write(tmp_path, bad_grades))
