"""Trend plots: a self-contained HTML page with an inline SVG (no dependencies), or a
PNG through matplotlib when it is installed."""

from __future__ import annotations

import datetime as dt
import html
import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hallkpi.ingest.errors import StoreConfigError

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")


@dataclass(frozen=True)
class Series:
    """One curve: ``times`` (ms) and ``values`` (NaN = no value); peak and valley
    indexes into them (or None)."""

    label: str
    times: Sequence[int]
    values: Sequence[float]
    peak: int | None
    valley: int | None


def svg(
    title: str, series: Sequence[Series], timezone: str, *, width: int = 900, height: int = 360
) -> str:
    """An SVG line chart with the peak (▲) and valley (▼) of each series marked."""
    pts = [
        (t, v) for s in series for t, v in zip(s.times, s.values, strict=True) if not math.isnan(v)
    ]
    left, right, top, bottom = 70, 20, 40, 50
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<text x="{left}" y="20" font-size="15">{html.escape(title)}</text>',
    ]
    if not pts:
        out.append(f'<text x="{left}" y="{height // 2}">no data</text></svg>')
        return "\n".join(out)
    t0, t1 = min(p[0] for p in pts), max(p[0] for p in pts)
    v0, v1 = min(0.0, *(p[1] for p in pts)), max(p[1] for p in pts)
    t1, v1 = max(t1, t0 + 1), v1 if v1 > v0 else v0 + 1

    def x(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * (width - left - right)

    def y(v: float) -> float:
        return height - bottom - (v - v0) / (v1 - v0) * (height - top - bottom)

    zone = ZoneInfo(timezone)
    for k in range(5):  # axes labels
        v = v0 + (v1 - v0) * k / 4
        t = t0 + (t1 - t0) * k / 4
        when = dt.datetime.fromtimestamp(t / 1000, zone).strftime("%m-%d %H:%M")
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.4g}</text>')
        out.append(
            f'<text x="{x(t):.1f}" y="{height - bottom + 18}" text-anchor="middle">{when}</text>'
        )
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#eee"/>'
        )
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        path = " ".join(
            f"{x(t):.1f},{y(v):.1f}"
            for t, v in zip(s.times, s.values, strict=True)
            if not math.isnan(v)
        )
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>')
        for idx, mark in ((s.peak, "▲"), (s.valley, "▼")):
            if idx is not None:
                px, py = x(s.times[idx]), y(s.values[idx])
                out.append(
                    f'<text x="{px:.1f}" y="{py - 4:.1f}" fill="{color}" '
                    f'text-anchor="middle">{mark}</text>'
                )
        out.append(
            f'<text x="{width - right}" y="{20 + 14 * i}" fill="{color}" text-anchor="end">'
            f"{html.escape(s.label)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def write_plot(path: str, title: str, series: Sequence[Series], timezone: str) -> None:
    """Writes ``path``: ``.html`` (inline SVG), ``.svg``, or ``.png`` (needs matplotlib)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".html", ".htm"):
        body = svg(title, series, timezone)
        Path(path).write_text(
            f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body>\n{body}\n</body></html>\n",
            encoding="utf-8",
        )
    elif suffix == ".svg":
        Path(path).write_text(svg(title, series, timezone) + "\n", encoding="utf-8")
    elif suffix == ".png":
        _png(path, title, series, timezone)
    else:
        raise StoreConfigError(f"--plot {path}: use a .html, .svg or .png file name")


def _png(path: str, title: str, series: Sequence[Series], timezone: str) -> None:
    try:
        matplotlib: Any = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        plt: Any = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        raise StoreConfigError(
            f"--plot {path}: PNG needs matplotlib (pip install matplotlib); "
            "or write .html, which needs nothing"
        ) from None
    zone = ZoneInfo(timezone)
    fig, ax = plt.subplots(figsize=(10, 4))
    for s in series:
        times = [dt.datetime.fromtimestamp(t / 1000, zone) for t in s.times]
        ax.plot(times, s.values, label=s.label)
        for idx, mark in ((s.peak, "^"), (s.valley, "v")):
            if idx is not None:
                ax.plot([times[idx]], [s.values[idx]], mark)
    ax.set_title(title)
    ax.legend()
    fig.autofmt_xdate()
    fig.savefig(path)
    plt.close(fig)
