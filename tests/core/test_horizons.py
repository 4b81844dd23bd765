"""hallkpi.core.horizons, the one horizon table, agrees with the independent reference
model's names (tests/reference/clock.py) and refuses what is not a sliding horizon."""

from __future__ import annotations

import pytest
from hallkpi.core import Engine
from hallkpi.core.errors import ConfigError
from hallkpi.core.horizons import HORIZONS, horizon_name, horizon_seconds
from reference import clock


def test_names_and_seconds_agree_with_the_reference_model() -> None:
    for seconds in [*range(1, 4000), 5400, 7200, 86400, 172800, 90000]:
        name = horizon_name(seconds)
        assert name == clock.horizon_name(seconds)
        assert horizon_seconds(name) == seconds == clock.horizon_seconds(name)


def test_the_table_is_the_engines() -> None:
    assert HORIZONS == {"d": 86400, "h": 3600, "m": 60, "s": 1}
    engine = Engine(horizons_s=(90, 300, 7200))
    assert engine.horizons() == [horizon_name(s) for s in (90, 300, 7200)] + ["today"]


@pytest.mark.parametrize("name", ["", "today", "900", "0m", "00m", "-5m", "1.5h", "15 m", "m"])
def test_what_is_not_a_sliding_horizon_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="not a sliding horizon name"):
        horizon_seconds(name)
