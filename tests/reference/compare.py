"""Compare engine output with the reference under the tolerances of KPIS.md.

Counts, sums, means, maxima and shares must agree to 1e-9 relative; the percentile
fields may differ by 1 % relative or 1 second, whichever is larger. A difference is
reported with its path, e.g. ``halls.yuhua.15m.wait_p90_s``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

PERCENTILE_FIELDS = frozenset({"wait_p50_s", "wait_p90_s", "handle_p90_s"})
REL_TOL = 1e-9


def _short(x: object, limit: int = 160) -> str:
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 5] + " ...}"


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def numbers_agree(actual: float, expected: float, *, percentile: bool = False) -> bool:
    if percentile:
        return abs(actual - expected) <= max(0.01 * abs(expected), 1.0)
    if isinstance(actual, int) and isinstance(expected, int):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=1e-12)


def diff(actual: Any, expected: Any, path: str = "") -> list[str]:
    """Every difference between two JSON-like documents, as 'path: actual != expected'."""
    where = path or "<root>"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: {actual!r} is not an object (expected {expected!r})"]
        out: list[str] = []
        for key in expected:
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                out.append(f"{sub}: missing (expected {_short(expected[key])})")
            else:
                out.extend(diff(actual[key], expected[key], sub))
        for key in actual:
            if key not in expected:
                sub = f"{path}.{key}" if path else str(key)
                out.append(f"{sub}: unexpected (actual {_short(actual[key])})")
        return out
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)):
            return [f"{where}: {actual!r} is not a list (expected {expected!r})"]
        out = []
        if len(actual) != len(expected):
            out.append(f"{where}: length {len(actual)} != {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected, strict=False)):
            out.extend(diff(a, e, f"{path}[{i}]"))
        return out
    if _is_number(expected) and _is_number(actual):
        field = path.rsplit(".", 1)[-1]
        if numbers_agree(actual, expected, percentile=field in PERCENTILE_FIELDS):
            return []
        return [f"{where}: {actual!r} != {expected!r}"]
    if actual != expected or type(actual) is not type(expected):
        return [f"{where}: {actual!r} != {expected!r}"]
    return []


def assert_snapshots_equal(actual: Any, expected: Any, *, limit: int = 40) -> None:
    """Raise AssertionError listing every difference (engine = actual, reference = expected)."""
    problems = diff(actual, expected)
    if problems:
        shown = "\n  ".join(problems[:limit])
        more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
        raise AssertionError(f"{len(problems)} difference(s):\n  {shown}{more}")


def alerts_by_hall(changes: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Alert changes grouped by hall, each hall's in emission order.

    The order between halls evaluated at the same moment is not specified by KPIS.md,
    the order within one hall is.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        out.setdefault(str(change.get("hall")), []).append(change)
    return out


def assert_alerts_equal(
    actual: Sequence[dict[str, Any]], expected: Sequence[dict[str, Any]], *, limit: int = 40
) -> None:
    """Same changes per hall in the same order; ts never going back overall."""
    problems = diff(alerts_by_hall(actual), alerts_by_hall(expected), "alerts")
    stamps = [c.get("ts", 0) for c in actual]
    if any(b < a for a, b in itertools.pairwise(stamps)):
        problems.append(f"alerts: ts goes back in the emitted sequence {stamps}")
    if problems:
        shown = "\n  ".join(problems[:limit])
        more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
        raise AssertionError(f"{len(problems)} alert difference(s):\n  {shown}{more}")
