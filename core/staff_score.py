"""The staff score's weights: the defaults and the reading of ``[report.weights]``.

One source for ``hallkpi report staff`` (``ingest/report/staff.py``) and the Grafana
staff board (``dashboards/settings.py``), so both rank a person the same way::

    [report.weights]            # each >= 0, not all 0; the score divides by their sum
    served = 0.30
    handle = 0.25
    rating = 0.25
    dissatisfied = 0.10
    no_show = 0.10
"""

from __future__ import annotations

from collections.abc import Mapping

from hallkpi.core.errors import ConfigError

STAFF_WEIGHTS: Mapping[str, float] = {
    "served": 0.30,
    "handle": 0.25,
    "rating": 0.25,
    "dissatisfied": 0.10,
    "no_show": 0.10,
}
"""Default weight of each part of the score (they need not sum to 1)."""

HIGHER_IS_BETTER: Mapping[str, bool] = {
    "served": True,
    "handle": False,
    "rating": True,
    "dissatisfied": False,
    "no_show": False,
}
"""Direction of each part: a percentile rank is taken so that better is higher."""


def staff_weights(report: object) -> dict[str, float]:
    """The weights of a ``[report]`` table (the defaults where it names none).

    Raises :class:`ConfigError` on a weights value that is not a table, an unknown
    part, a negative or non-numeric weight, or weights that are all 0."""
    weights = dict(STAFF_WEIGHTS)
    if not isinstance(report, Mapping):
        return weights
    given = report.get("weights", {})
    if not isinstance(given, Mapping):
        raise ConfigError("[report.weights] must be a table")
    unknown = sorted(set(given) - set(weights))
    if unknown:
        raise ConfigError(f"unknown [report.weights] {unknown} (known: {list(weights)})")
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"report.weights.{key} must be a number >= 0")
        weights[key] = float(value)
    if sum(weights.values()) <= 0:
        raise ConfigError("[report.weights] must not all be 0")
    return weights
