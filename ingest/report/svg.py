"""Small inline-SVG charts for the demo report: no dependencies, no scripts.

:class:`Chart` draws on a time axis (ms, labelled in local hours) with a left and an
optional right value axis: filled areas, lines (broken where a value is NaN), bars and
shaded bands. :func:`timeline` draws alert intervals as a Gantt chart.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#bab0ac",
    "#e15759",
)
ALERT_COLORS = {
    "wait_timeout": "#e15759",
    "congestion": "#f28e2b",
    "dissatisfaction": "#b07aa1",
    "low_answer_rate": "#4e79a7",
    "call_queue": "#76b7b2",
    "opinion_overdue": "#9c755f",
}
TEXT = "#5b6270"
GRID = "#e8eaee"


def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about ``ticks`` steps."""
    if span <= 0 or math.isnan(span):
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


@dataclass(frozen=True)
class Axis:
    """A value axis from 0 to a round maximum; ``fmt`` labels the ticks."""

    top: float
    step: float
    fmt: Callable[[float], str]
    title: str = ""

    @classmethod
    def fit(
        cls,
        values: Sequence[float],
        fmt: Callable[[float], str] = lambda v: f"{v:g}",
        title: str = "",
        *,
        at_least: float = 1.0,
    ) -> Axis:
        finite = [v for v in values if not math.isnan(v)]
        high = max([at_least, *finite])
        step = nice_step(high)
        return cls(math.ceil(high / step - 1e-9) * step, step, fmt, title)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


class Chart:
    """One chart over ``[t0, t1]`` (ms) in ``timezone``; call the drawing methods, then
    :meth:`svg`."""

    def __init__(
        self,
        t0: int,
        t1: int,
        timezone: str,
        left: Axis,
        right: Axis | None = None,
        *,
        width: int = 640,
        height: int = 200,
        label: str = "",
    ) -> None:
        self.t0, self.t1, self.zone = t0, max(t1, t0 + 1), ZoneInfo(timezone)
        self.left, self.right = left, right
        self.width, self.height, self.label = width, height, label
        self.ml, self.mr, self.mt, self.mb = 44, 44 if right else 14, 14, 24
        self.body: list[str] = []

    def x(self, t: float) -> float:
        return self.ml + (t - self.t0) / (self.t1 - self.t0) * (self.width - self.ml - self.mr)

    def y(self, v: float, axis: Axis | None = None) -> float:
        a = axis or self.left
        inner = self.height - self.mt - self.mb
        return self.height - self.mb - min(max(v / a.top, 0.0), 1.05) * inner

    def band(self, t0: int, t1: int, color: str, title: str = "") -> None:
        """A shaded vertical band (an alert that was firing), under everything else."""
        x0, x1 = self.x(max(t0, self.t0)), self.x(min(t1, self.t1))
        tip = f"<title>{esc(title)}</title>" if title else ""
        self.body.insert(
            0,
            f'<rect x="{x0:.1f}" y="{self.mt}" width="{max(x1 - x0, 1.5):.1f}" '
            f'height="{self.height - self.mt - self.mb}" fill="{color}" opacity="0.13">'
            f"{tip}</rect>",
        )

    def _runs(
        self, times: Sequence[int], values: Sequence[float], axis: Axis | None
    ) -> list[list[tuple[float, float]]]:
        runs: list[list[tuple[float, float]]] = [[]]
        for t, v in zip(times, values, strict=True):
            if math.isnan(v):
                if runs[-1]:
                    runs.append([])
            else:
                runs[-1].append((self.x(t), self.y(v, axis)))
        return [r for r in runs if r]

    def area(
        self, times: Sequence[int], values: Sequence[float], color: str, *, opacity: float = 0.28
    ) -> None:
        base = self.y(0)
        for run in self._runs(times, values, None):
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            self.body.append(
                f'<polygon points="{run[0][0]:.1f},{base:.1f} {pts} {run[-1][0]:.1f},{base:.1f}" '
                f'fill="{color}" opacity="{opacity}"/>'
            )
            self.body.append(
                f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.2"/>'
            )

    def line(
        self,
        times: Sequence[int],
        values: Sequence[float],
        color: str,
        *,
        right: bool = False,
        width: float = 2.0,
        dash: str = "",
    ) -> None:
        axis = self.right if right else None
        style = f' stroke-dasharray="{dash}"' if dash else ""
        for run in self._runs(times, values, axis):
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            self.body.append(
                f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}" '
                f'stroke-linejoin="round" stroke-linecap="round"{style}/>'
            )

    def bars(self, times: Sequence[int], span_ms: int, values: Sequence[float], color: str) -> None:
        base = self.y(0)
        for t, v in zip(times, values, strict=True):
            if math.isnan(v) or v <= 0:
                continue
            x0, x1 = self.x(max(t, self.t0)), self.x(min(t + span_ms, self.t1))
            top = self.y(v)
            self.body.append(
                f'<rect x="{x0 + 1.5:.1f}" y="{top:.1f}" width="{max(x1 - x0 - 3, 1):.1f}" '
                f'height="{base - top:.1f}" fill="{color}" rx="2" opacity="0.85">'
                f"<title>{v:g}</title></rect>"
            )

    def _frame(self) -> list[str]:
        out = []
        r = self.width - self.mr
        v = 0.0
        while v <= self.left.top + 1e-9:
            y = self.y(v)
            out.append(f'<line x1="{self.ml}" x2="{r}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
            out.append(
                f'<text x="{self.ml - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{esc(self.left.fmt(v))}</text>"
            )
            v += self.left.step
        if self.right is not None:
            v = 0.0
            while v <= self.right.top + 1e-9:
                y = self.y(v, self.right)
                out.append(
                    f'<text x="{r + 6}" y="{y + 4:.1f}" text-anchor="start">'
                    f"{esc(self.right.fmt(v))}</text>"
                )
                v += self.right.step
        first = dt.datetime.fromtimestamp(self.t0 / 1000, self.zone)
        hour = first.replace(minute=0, second=0, microsecond=0)
        hour += dt.timedelta(hours=1)
        while hour.timestamp() * 1000 <= self.t1:
            x = self.x(hour.timestamp() * 1000)
            out.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.height - self.mb}" '
                f'y2="{self.height - self.mb + 4}" stroke="#aab"/>'
            )
            if hour.hour % 2 == 0:
                out.append(
                    f'<text x="{x:.1f}" y="{self.height - 6}" text-anchor="middle">'
                    f"{hour:%H:00}</text>"
                )
            hour += dt.timedelta(hours=1)
        base = self.height - self.mb
        out.append(f'<line x1="{self.ml}" x2="{r}" y1="{base}" y2="{base}" stroke="#aab"/>')
        return out

    def svg(self) -> str:
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" font-family="inherit" font-size="11" '
            f'fill="{TEXT}" role="img" aria-label="{esc(self.label)}">'
        )
        return "".join([head, *self._frame(), *self.body, "</svg>"])


@dataclass(frozen=True)
class Interval:
    """An alert firing from ``start`` to ``end`` (ms); ``open`` when still firing."""

    lane: str
    alert: str
    start: int
    end: int
    peak: float | None
    threshold: float
    open: bool = False


def timeline(
    lanes: Sequence[str],
    intervals: Sequence[Interval],
    t0: int,
    t1: int,
    timezone: str,
    *,
    width: int = 1240,
) -> str:
    """A Gantt chart: one row per lane, each interval a bar coloured by its alert."""
    row, label_w = 24, 190
    chart = Chart(t0, t1, timezone, Axis(1, 1, lambda v: ""), width=width, height=0)
    chart.ml, chart.mr = label_w, 16
    chart.height = chart.mt + row * max(len(lanes), 1) + chart.mb
    out, bars = [], []
    for i, lane in enumerate(lanes):
        y = chart.mt + i * row
        if i % 2 == 0:
            out.append(
                f'<rect x="{label_w}" y="{y}" width="{width - label_w - 16}" height="{row}" '
                'fill="#f4f5f8"/>'
            )
        out.append(
            f'<text x="{label_w - 8}" y="{y + row / 2 + 4}" text-anchor="end">{esc(lane)}</text>'
        )
        for it in (v for v in intervals if v.lane == lane):
            x0, x1 = chart.x(max(it.start, t0)), chart.x(min(it.end, t1))
            color = ALERT_COLORS.get(it.alert, "#e15759")
            until = "still firing" if it.open else f"{(it.end - it.start) / 60000:.0f} min"
            bars.append(
                f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 3):.1f}" '
                f'height="{row - 8}" rx="3" fill="{color}"><title>{esc(it.alert)}: {until}'
                "</title></rect>"
            )
    hour = (t0 // 3_600_000 + 1) * 3_600_000
    while hour < t1:
        x = chart.x(hour)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{chart.mt}" y2="{chart.height - chart.mb}" '
            f'stroke="{GRID}"/>'
        )
        hour += 3_600_000
    out.extend(bars)
    body = "".join(out)
    svg = chart.svg()
    return svg.replace("</svg>", body + "</svg>") if lanes else svg
