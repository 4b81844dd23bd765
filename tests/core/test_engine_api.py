"""The Python API of hallkpi.core.Engine: push paths, results, columns, alerts, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hallkpi.core import (
    DEFAULT_RULES,
    GAUGE_KPIS,
    STAFF_KPIS,
    WINDOWED_KPIS,
    AlertRule,
    ConfigError,
    Engine,
    HallkpiError,
    InvalidEvent,
)
from hallkpi.core import _engine as native

T0 = 1764205200000  # 2026-11-27 09:00 Asia/Shanghai


def issued(i: int, ts: int, hall: str = "yuhua", channel: str = "kiosk") -> dict[str, object]:
    return {
        "id": f"i{i}-{hall}",
        "type": "ticket.issued",
        "ts": ts,
        "hall": hall,
        "ticket": f"A{i}",
        "service": "invoice",
        "channel": channel,
    }


def called(i: int, ts: int, hall: str = "yuhua", staff: str = "s1") -> dict[str, object]:
    return {
        "id": f"c{i}-{hall}",
        "type": "ticket.called",
        "ts": ts,
        "hall": hall,
        "ticket": f"A{i}",
        "window": "w1",
        "staff": staff,
    }


def test_native_module_is_the_compiled_extension() -> None:
    assert native.__file__.endswith((".so", ".pyd"))
    assert issubclass(Engine, native.Engine)
    # push is the compiled method itself: no Python frame per event.
    assert type(Engine.push).__name__ in {"instancemethod", "builtin_function_or_method"}


def test_push_returns_false_for_duplicates_and_raises_invalid_event() -> None:
    e = Engine()
    assert e.push(issued(1, T0)) is True
    assert e.push(issued(1, T0)) is False
    with pytest.raises(InvalidEvent, match="'ts' must be an integer"):
        e.push({**issued(2, T0), "ts": float(T0)})
    with pytest.raises(ValueError, match="boolean"):
        e.push({**issued(3, T0), "ts": True})
    with pytest.raises(InvalidEvent, match="not valid Unicode"):
        e.push({**issued(4, T0), "ticket": "\ud800"})
    with pytest.raises(TypeError):
        e.push([1, 2])  # type: ignore[arg-type]
    assert issubclass(InvalidEvent, HallkpiError)
    d = e.snapshot()["diagnostics"]
    assert d == {
        "events_applied": 1,
        "duplicate_events": 1,
        "late_events": 0,
        "orphan_events": 0,
        "rejected_events": 3,
    }


def test_push_json_counts_and_never_raises() -> None:
    e = Engine()
    batch = [issued(1, T0), issued(1, T0), {"id": "x"}, 5]
    r = e.push_json(json.dumps(batch).encode())
    assert (r.applied, r.duplicates, r.rejected) == (1, 1, 2)
    assert [i for i, _ in r.rejections] == [2, 3]
    assert "missing field 'type'" in r.rejections[0][1]
    assert "JSON object" in r.rejections[1][1]
    for bad in (b"", b"{", b"\xff", b'{"id": "\\ud800"}', b"nul"):
        r = e.push_json(bad)
        assert (r.applied, r.rejected) == (0, 1), bad
    r = e.push_json(memoryview(json.dumps(issued(2, T0)).encode()))
    assert r.applied == 1


def test_push_jsonl_reports_line_numbers() -> None:
    e = Engine()
    lines = [json.dumps(issued(1, T0)), "", "not json", json.dumps(called(1, T0 + 60000)), "  "]
    r = e.push_jsonl("\n".join(lines).encode())
    assert (r.applied, r.duplicates, r.rejected) == (2, 0, 1)
    assert r.rejections[0][0] == 3
    assert e.snapshot()["halls"]["yuhua"]["today"]["wait_mean_s"] == 60.0


def test_payload_size_limit() -> None:
    e = Engine(max_payload_bytes=200)
    r = e.push_json(json.dumps({**issued(1, T0), "pad": "x" * 300}).encode())
    assert r.rejected == 1
    assert "exceeds the limit of 200 bytes" in r.rejections[0][1]


def test_snapshot_shape_is_kpis_md() -> None:
    e = Engine()
    e.push(issued(1, T0, channel="wechat"))
    e.push(called(1, T0 + 30000))
    snap = e.snapshot()
    assert set(snap) == {"now", "halls", "diagnostics"}
    assert snap["now"] == T0 + 30000
    hall = snap["halls"]["yuhua"]
    assert list(hall) == ["now", "5m", "15m", "1h", "today", "staff"]
    assert tuple(hall["now"]) == GAUGE_KPIS
    for h in ("5m", "15m", "1h", "today"):
        assert tuple(hall[h]) == WINDOWED_KPIS
    assert tuple(hall["staff"]["s1"]["today"]) == STAFF_KPIS
    assert hall["5m"]["issued"] == 1 and isinstance(hall["5m"]["issued"], int)
    assert hall["5m"]["wechat_share"] == 1.0
    assert hall["5m"]["handle_mean_s"] is None
    assert e.hall("yuhua") == hall
    with pytest.raises(KeyError):
        e.hall("nowhere")
    # JSON text from C++ and dicts from the binding are the same document.
    assert json.loads(e.snapshot_json()) == snap
    json.dumps(snap, allow_nan=False)


def test_configured_halls_listed_without_events() -> None:
    e = Engine(halls=["gulou"], configured_windows={"yuhua": 4})
    assert list(e.snapshot()["halls"]) == ["yuhua", "gulou"]
    assert e.snapshot()["halls"]["yuhua"]["now"]["window_open_rate"] == 0.0


def test_snapshot_columns_one_row_per_hall_and_horizon() -> None:
    e = Engine()
    for i, hall in enumerate(["a", "b", "c"]):
        e.push(issued(i, T0 + i, hall=hall))
    cols = e.snapshot_columns()
    assert len(cols["hall"]) == 3 * 4
    assert list(cols["horizon"][:4]) == ["5m", "15m", "1h", "today"]
    assert cols["issued"].dtype == np.int64 and cols["wait_mean_s"].dtype == np.float64
    assert set(GAUGE_KPIS) | set(WINDOWED_KPIS) <= set(cols)
    assert all(len(v) == 12 for v in cols.values())
    assert math.isnan(cols["wait_mean_s"][0])
    assert cols["waiting"].tolist() == [1] * 12
    staff = e.staff_columns()
    assert len(staff["hall"]) == 0
    e.push(called(0, T0 + 60000, hall="a"))
    staff = e.staff_columns()
    assert list(staff["staff"]) == ["s1"] * 4 and set(STAFF_KPIS) <= set(staff)


def test_push_columns_matches_push_and_traces_a_kpi() -> None:
    events = []
    for i in range(50):
        events.append(issued(i, T0 + i * 20000))
        events.append(called(i, T0 + i * 20000 + (i % 7) * 60000 + 1000))
    events.sort(key=lambda ev: int(str(ev["ts"])))
    by_dict = Engine()
    for ev in events:
        by_dict.push(ev)
    fields = ["id", "type", "hall", "ticket", "service", "channel", "window", "staff"]
    cols: dict[str, np.ndarray] = {
        f: np.array([str(ev.get(f, "")).encode() for ev in events], dtype="S") for f in fields
    }
    cols["ts"] = np.array([ev["ts"] for ev in events], dtype=np.int64)
    by_cols = Engine()
    result, trace = by_cols.push_columns(cols, trace=("wait_p90_s", "15m"))
    assert (result.applied, result.rejected) == (100, 0)
    assert by_cols.snapshot() == by_dict.snapshot()
    assert trace is not None and len(trace) == 100
    assert math.isnan(trace[0])  # no wait yet after the first issue
    assert trace[-1] == by_dict.snapshot()["halls"]["yuhua"]["15m"]["wait_p90_s"]
    # object columns work too, and bad rows are reported by index
    obj = {f: np.array([ev.get(f) for ev in events[:3]], dtype=object) for f in fields}
    obj["ts"] = cols["ts"][:3]
    obj["type"][1] = "nope"
    r, none = Engine().push_columns(obj)
    assert none is None and r.rejections[0][0] == 1 and "unknown type" in r.rejections[0][1]
    with pytest.raises(ValueError, match="required"):
        Engine().push_columns({"ts": cols["ts"]})
    # several figures in one pass: one column each, as each traced alone
    figures = [("waiting", "now"), ("wait_p90_s", "15m"), ("wait_mean_s", "1h")]
    _, many = Engine().push_columns(cols, trace=figures)
    assert many is not None and many.shape == (100, 3)
    for j, figure in enumerate(figures):
        _, alone = Engine().push_columns(cols, trace=figure)
        assert alone is not None
        np.testing.assert_array_equal(many[:, j], alone)
    with pytest.raises(ValueError, match="unknown KPI 'dissatisfied'"):  # a per-staff one
        Engine().push_columns(cols, trace=[("rating_mean", "15m"), ("dissatisfied", "15m")])


def test_advance_returns_changes_and_never_moves_clock_back() -> None:
    e = Engine()
    e.push({"id": "w", "type": "window.opened", "ts": T0, "hall": "h", "window": "1", "staff": "s"})
    for i in range(8):
        e.push(issued(i, T0 + 1000, hall="h"))
    pending = e.drain_alerts()
    assert [(c["alert"], c["state"]) for c in pending] == [("congestion", "pending")]
    assert e.advance(T0 + 60000) == []
    changes = e.advance(T0 + 121000)
    assert changes == [
        {
            "hall": "h",
            "alert": "congestion",
            "state": "firing",
            "value": 8.0,
            "threshold": 8.0,
            "ts": T0 + 121000,
        }
    ]
    e.advance(T0)
    assert e.now == T0 + 121000
    assert ("h", "congestion", "firing") in e.alert_states()


def test_custom_rules_and_validation() -> None:
    rule = AlertRule("busy", "served", "5m", ">=", 1, guard=("issued", "5m", 1))
    e = Engine(alert_rules=[rule], horizons_s=(60,))
    assert e.alert_rules == (rule,)
    e.push(issued(1, T0))
    e.push({**called(1, T0 + 1), "type": "ticket.completed"})
    assert [c["state"] for c in e.drain_alerts()] == ["firing"]
    # The rule's 5m horizon is kept internally even though only 1m is output.
    assert list(e.snapshot()["halls"]["yuhua"]) == ["now", "1m", "today", "staff"]
    with pytest.raises(ConfigError, match="unknown KPI"):
        AlertRule("x", "nope", "now", ">", 1)
    with pytest.raises(ConfigError, match="gauge"):
        AlertRule("x", "waiting", "15m", ">", 1)
    with pytest.raises(ConfigError, match="op"):
        AlertRule("x", "waiting", "now", "==", 1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unique"):
        Engine(alert_rules=[rule, rule])
    with pytest.raises(ConfigError, match="time zone"):
        Engine(timezone="Mars/Olympus")
    with pytest.raises(ConfigError):
        Engine(pane_ms=0)
    with pytest.raises(ConfigError):
        Engine(horizons_s=(300, 300))
    assert [r.name for r in DEFAULT_RULES] == [
        "wait_timeout",
        "dissatisfaction",
        "congestion",
        "low_answer_rate",
        "call_queue",
        "opinion_overdue",
    ]


def test_timezone_controls_today() -> None:
    utc = Engine(timezone="UTC")
    sh = Engine()
    ts = 1764201600000 - 3600000  # 2026-11-26 23:00 UTC = 2026-11-27 07:00 Shanghai
    for e in (utc, sh):
        e.push(issued(1, ts))
        e.advance(1764201600000 + 1000)  # 00:00:01 UTC on the 27th
    assert utc.snapshot()["halls"]["yuhua"]["today"]["issued"] == 0
    assert sh.snapshot()["halls"]["yuhua"]["today"]["issued"] == 1


def test_memory_bytes_reports_something_sane() -> None:
    e = Engine()
    before = e.memory_bytes()
    for i in range(1000):
        e.push(issued(i, T0 + i))
    assert e.memory_bytes() > before
