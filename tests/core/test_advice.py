"""Live staffing advice: Erlang C on the engine's figures, the words and the numbers."""

from __future__ import annotations

from typing import Any

import pytest
from hallkpi.core import Engine
from hallkpi.core.decide.advice import (
    AdviceSettings,
    hall_advice,
    horizon_seconds,
    staffing_advice,
)
from hallkpi.core.decide.erlang import erlang_c_model, servers_needed
from hallkpi.core.errors import ConfigError

T0 = 1795741200000  # 2026-11-27 06:20 Shanghai


def test_the_published_call_centre_case() -> None:
    # 100 calls per 30 minutes, AHT 180 s: 14 agents give 88.8 % within 20 s.
    kw: dict[str, Any] = {"arrivals_per_h": 200, "handle_s": 180, "waiting": 0}
    kw |= {"target_wait_s": 20, "target_level": 0.8}
    right = staffing_advice("agents", servers=14, **kw)
    assert (right.action, right.change, right.needed) == ("ok", 0, 14)
    assert round(right.service_level_now or 0, 3) == 0.888
    assert right.text.startswith("staffing is right (14 open, 14 needed; 89% within 20 s")
    short = staffing_advice("agents", servers=11, **kw)
    assert (short.action, short.change) == ("open", 3)
    assert short.service_level_now == pytest.approx(erlang_c_model(11, 200, 180).service_level(20))
    assert short.service_level_advised == pytest.approx(0.888, abs=5e-4)
    assert short.text.startswith("open 3 more agents (11 open, 14 needed")
    many = staffing_advice("agents", servers=20, **kw)
    assert (many.action, many.change, many.short) == ("close", -6, "-6")
    assert many.text.startswith("6 agents can close")


def test_windows_by_the_hall_target() -> None:
    a = staffing_advice(
        "windows",
        arrivals_per_h=60,
        handle_s=400,
        servers=5,
        waiting=0,
        target_wait_s=600,
        target_level=0.8,
    )
    assert a.needed == servers_needed(60, 400, target_wait_s=600, target_level=0.8) == 8
    assert a.service_level_now == 0.0  # 6.7 Erlangs on 5 windows: the queue grows
    assert a.text.startswith("open 3 more windows (5 open, 8 needed; 0% within 10 min now")
    one = staffing_advice(
        "windows",
        arrivals_per_h=2,
        handle_s=400,
        servers=2,
        waiting=0,
        target_wait_s=600,
        target_level=0.8,
    )
    assert one.text.startswith("1 window can close (2 open, 1 needed")


def test_a_queue_already_there_needs_windows_to_clear_it() -> None:
    # 60/h x 400 s = 6.67 Erlangs; 40 waiting x 400 s cleared within an hour: 4.44 more.
    a = staffing_advice(
        "windows",
        arrivals_per_h=60,
        handle_s=400,
        servers=8,
        waiting=40,
        target_wait_s=600,
        target_level=0.8,
    )
    assert (a.erlang_needed, a.backlog_needed, a.needed, a.change) == (8, 12, 12, 4)
    # nobody arrives any more but people still wait: keep a window, do not close all
    late = staffing_advice(
        "windows",
        arrivals_per_h=0,
        handle_s=400,
        servers=3,
        waiting=2,
        target_wait_s=600,
        target_level=0.8,
    )
    # ... and (2 + 1) x 400 s / 2 windows = 600 s: the next one is called within 10 min
    assert (late.needed, late.queue_needed, late.action) == (2, 2, "close")
    # many waiting, few arriving: the steady state would close windows, the queue says no
    held = staffing_advice(
        "windows",
        arrivals_per_h=30,
        handle_s=400,
        servers=10,
        waiting=30,
        target_wait_s=600,
        target_level=0.8,
    )
    assert held.erlang_needed == 5 and held.backlog_needed == 7 and held.queue_needed == 21
    assert (held.needed, held.action) == (10, "ok")
    idle = staffing_advice(
        "windows",
        arrivals_per_h=0,
        handle_s=400,
        servers=0,
        waiting=0,
        target_wait_s=600,
        target_level=0.8,
    )
    assert idle.action == "idle" and idle.short == "-" and idle.text.startswith("closed")


def doc(**figures: Any) -> dict[str, Any]:
    """A hall document: gauges in ``now``; ``issued``/``calls_offered`` (15m);
    ``handle_mean_s``/``aht_s`` (1h)."""
    now = {k: figures.pop(k, 0) for k in ("waiting", "open_windows", "calls_waiting")}
    now |= {k: figures.pop(k, 0) for k in ("agents_available", "agents_busy")}
    m15 = {k: figures.pop(k, 0) for k in ("issued", "calls_offered")}
    h1 = {k: figures.pop(k, None) for k in ("handle_mean_s", "aht_s")}
    assert not figures
    return {"now": now, "15m": m15, "1h": h1}


def test_hall_advice_reads_the_engine_figures() -> None:
    a = hall_advice(
        "yuhua",
        doc(issued=15, handle_mean_s=400.0, open_windows=5, calls_offered=50, aht_s=180.0)
        | {"now": {"open_windows": 5, "agents_available": 4, "agents_busy": 7}},
        ts=T0,
    )
    assert a.windows.arrivals_per_h == 60 and a.windows.handle_s == 400
    assert a.windows.handle_source == "1h" and a.windows.needed == 8
    assert a.agents is not None and a.agents.arrivals_per_h == 200 and a.agents.open == 11
    assert a.agents.needed == 14 and a.agents.target_wait_s == 20
    d = a.as_dict()
    assert d["hall"] == "yuhua" and d["ts"] == T0 and d["windows"]["text"] == a.windows.text
    # no handle time measured in the last hour: the configured default; no phone: None
    b = hall_advice("gulou", doc(issued=3, open_windows=1, waiting=1))
    assert b.windows.handle_s == 600 and b.windows.handle_source == "default"
    assert b.agents is None
    s = AdviceSettings(overhead_s=90, default_handle_s=300)
    assert hall_advice("gulou", doc(issued=3), s).windows.handle_s == 390


def test_advice_on_a_live_engine() -> None:
    e = Engine()
    e.push({"id": "w", "type": "window.opened", "ts": T0, "hall": "h", "window": "1", "staff": "s"})
    for i in range(12):
        e.push(
            {
                "id": f"i{i}",
                "type": "ticket.issued",
                "ts": T0 + i * 1000,
                "hall": "h",
                "ticket": f"A{i}",
                "service": "invoice",
                "channel": "kiosk",
            }
        )
    a = hall_advice("h", e.hall("h"))
    assert a.windows.arrivals_per_h == 48 and a.windows.waiting == 12 and a.windows.open == 1
    assert a.windows.action == "open" and a.windows.needed > 1


def test_settings_from_the_configuration_file() -> None:
    raw = {
        "advice": {"target_wait_s": 300, "target_level": 0.9},
        "engine": {"default_handle_s": 500},
    }
    s = AdviceSettings.from_config(raw)
    assert (s.target_wait_s, s.target_level, s.default_handle_s) == (300.0, 0.9, 500.0)
    assert AdviceSettings.from_config({}) == AdviceSettings()
    bads: list[dict[str, Any]] = [
        {"advice": {"target_level": 1.5}},
        {"advice": {"target_wait": 300}},
        {"advice": {"target_wait_s": "10 min"}},
        {"advice": {"arrivals_horizon": "soon"}},
        {"advice": []},
    ]
    for bad in bads:
        with pytest.raises(ConfigError):
            AdviceSettings.from_config(bad)
    assert horizon_seconds("15m") == 900 and horizon_seconds("1h") == 3600


def test_advice_default_handle_time_is_the_engines() -> None:
    # core.decide is pure maths (it may not import the engine face); its one restated
    # engine default is held to the engine's own value here.
    from hallkpi.core.config import engine_defaults

    assert AdviceSettings().default_handle_s == engine_defaults().default_handle_s
