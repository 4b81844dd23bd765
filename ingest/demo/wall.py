"""The live wall screen of ``hallkpi demo`` (rich), and its headless progress line.

:func:`render_wall` turns a :class:`WallState` (the engine snapshot, the alerts firing,
the simulated clock and run counters) into one rich renderable: a header with the
simulated clock and a progress bar, one row per hall (waiting, longest wait, window
pressure, open windows, estimated wait, served today, call answer rate, satisfaction,
staffing advice, alerts firing), a city total and a footer. Values past their alert thresholds are
coloured. :func:`progress_line` is the one-line form printed when stdout is no terminal.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from hallkpi.core.decide.advice import hall_advice
from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

FIRING_STYLE = "bold white on red"


@dataclass
class WallState:
    """What the wall shows at one moment."""

    date: str
    timezone: str
    speed: float
    start_ms: int
    end_ms: int
    now_ms: int
    halls: Sequence[str]
    snapshot: Mapping[str, Any]  # Engine.snapshot()
    firing: Mapping[str, Sequence[str]] = field(default_factory=dict)  # hall -> alert names
    events_applied: int = 0
    rows_written: int = 0
    alerts_fired: int = 0
    elapsed_s: float = 0.0
    source: str = "in-process"
    store: str = ""

    @property
    def fraction(self) -> float:
        span = max(self.end_ms - self.start_ms, 1)
        return min(max((self.now_ms - self.start_ms) / span, 0.0), 1.0)

    def clock(self, fmt: str = "%H:%M:%S") -> str:
        return dt.datetime.fromtimestamp(self.now_ms / 1000, ZoneInfo(self.timezone)).strftime(fmt)


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def duration(seconds: Any) -> str:
    """``612.4`` -> ``10:12``; ``-`` for null."""
    s = _num(seconds)
    if math.isnan(s):
        return "-"
    s = round(s)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def minutes(seconds: Any) -> str:
    s = _num(seconds)
    return "-" if math.isnan(s) else f"{s / 60:.0f} min"


def percent(v: Any) -> str:
    x = _num(v)
    return "-" if math.isnan(x) else f"{x:.0%}"


def _styled(text: str, value: float, warn: float, bad: float, *, low: bool = False) -> Text:
    """``text`` yellow past ``warn``, red past ``bad`` (``low``: smaller is worse)."""
    if math.isnan(value):
        return Text(text, style="dim")
    if (value <= bad) if low else (value >= bad):
        return Text(text, style="bold red")
    if (value <= warn) if low else (value >= warn):
        return Text(text, style="yellow")
    return Text(text)


def hall_cells(name: str, doc: Mapping[str, Any], firing: Sequence[str]) -> list[RenderableType]:
    """The cells of one hall's row (``doc`` is the hall's snapshot document)."""
    now, today = doc.get("now", {}), doc.get("today", {})
    longest = _num(now.get("longest_wait_s"))
    pressure = _num(now.get("window_pressure"))
    answer = _num(today.get("answer_rate"))
    rating = _num(today.get("rating_mean"))
    alerts: RenderableType = (
        Text(" " + " ".join(sorted(firing)) + " ", style=FIRING_STYLE)
        if firing
        else Text("ok", style="green")
    )
    return [
        Text(("● " if firing else "  ") + name, style="bold red" if firing else "bold"),
        Text(f"{now.get('waiting', 0):,}"),
        _styled(duration(longest), longest, 1200, 1800),
        _styled("-" if math.isnan(pressure) else f"{pressure:.1f}", pressure, 5, 8),
        Text(f"{now.get('open_windows', 0)}"),
        Text(minutes(now.get("est_wait_s"))),
        Text(f"{today.get('served', 0):,}"),
        _styled(percent(answer), answer, 0.9, 0.8, low=True),
        _styled("-" if math.isnan(rating) else f"{rating:.2f} ★", rating, 4.3, 4.0, low=True),
        advice_cell(name, doc),
        alerts,
    ]


def advice_cell(name: str, doc: Mapping[str, Any]) -> Text:
    """Live staffing advice (core.advice, default targets): windows to open (+N) or that
    can close (-N), and the same for phone agents."""
    a = hall_advice(name, doc)
    text = f"{a.windows.short} win"
    if a.agents is not None:
        text += f" {a.agents.short} agt"
    style = (
        "bold yellow" if a.windows.action == "open" else "green" if a.windows.action == "ok" else ""
    )
    return Text(text, style=style)


_COLUMNS = (
    ("hall", "left"),
    ("waiting", "right"),
    ("longest wait", "right"),
    ("pressure", "right"),
    ("windows", "right"),
    ("est. wait", "right"),
    ("served today", "right"),
    ("answer rate", "right"),
    ("satisfaction", "right"),
    ("advice", "left"),
    ("alerts firing", "left"),
)


def hall_table(state: WallState) -> Table:
    table = Table(box=box.SIMPLE_HEAVY, expand=True, pad_edge=False, show_footer=True)
    halls = state.snapshot.get("halls", {})
    totals = {"waiting": 0, "open": 0, "served": 0, "firing": 0}
    rows = []
    for name in state.halls:
        doc = halls.get(name, {})
        firing = state.firing.get(name, ())
        rows.append(hall_cells(name, doc, firing))
        totals["waiting"] += int(doc.get("now", {}).get("waiting", 0))
        totals["open"] += int(doc.get("now", {}).get("open_windows", 0))
        totals["served"] += int(doc.get("today", {}).get("served", 0))
        totals["firing"] += len(firing)
    footers = {
        "hall": "city",
        "waiting": f"{totals['waiting']:,}",
        "windows": f"{totals['open']:,}",
        "served today": f"{totals['served']:,}",
        "alerts firing": f"{totals['firing']} firing, {state.alerts_fired} fired today",
    }
    for title, justify in _COLUMNS:
        table.add_column(
            title,
            justify="right" if justify == "right" else "left",
            footer=footers.get(title, ""),
            no_wrap=title != "alerts firing",
        )
    for cells in rows:
        table.add_row(*cells)
    return table


def render_wall(state: WallState) -> RenderableType:
    """The whole wall screen for ``state``."""
    day = dt.date.fromisoformat(state.date)
    title = Text.assemble(
        ("hallkpi", "bold cyan"),
        f"  {day:%A %d %B %Y}  ·  {len(state.halls)} halls and their phone lines  ·  ",
        (state.clock(), "bold yellow"),
        f"  ({state.timezone}, ×{state.speed:g})" if state.speed else f"  ({state.timezone})",
    )
    bar = Table.grid(expand=True)
    bar.add_column(ratio=1)
    bar.add_column(width=28, justify="right")
    start = dt.datetime.fromtimestamp(state.start_ms / 1000, ZoneInfo(state.timezone))
    end = dt.datetime.fromtimestamp(state.end_ms / 1000, ZoneInfo(state.timezone))
    bar.add_row(
        ProgressBar(total=1000, completed=round(state.fraction * 1000)),
        Text(f"{state.fraction:4.0%} of {start:%H:%M}-{end:%H:%M}"),
    )
    footer = Text(
        f"{state.events_applied:,} events applied · {state.rows_written:,} store rows · "
        f"{state.elapsed_s:.1f} s · {state.source}" + (f" · {state.store}" if state.store else ""),
        style="dim",
    )
    return Panel(Group(title, bar, hall_table(state), footer), border_style="cyan")


def progress_line(state: WallState) -> str:
    """One line for logs: clock, progress, city figures and the alerts firing."""
    halls = state.snapshot.get("halls", {})
    waiting = sum(int(halls.get(h, {}).get("now", {}).get("waiting", 0)) for h in state.halls)
    served = sum(int(halls.get(h, {}).get("today", {}).get("served", 0)) for h in state.halls)
    firing = [f"{h}:{a}" for h in state.halls for a in sorted(state.firing.get(h, ()))]
    return (
        f"demo {state.clock('%H:%M')} {state.fraction:4.0%}  events {state.events_applied:,}  "
        f"waiting {waiting}  served {served}  alerts fired {state.alerts_fired}  "
        f"firing {', '.join(firing) if firing else '-'}  ({state.elapsed_s:.1f} s)"
    )
