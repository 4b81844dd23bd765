"""The demo's HTML report: one self-contained page (inline SVG and CSS, no scripts, no
network) about one day of the store.

Everything on the page is read back from the store (:mod:`hallkpi.ingest.report.data`):
headline figures, the queue of every hall through the day, tickets served and calls
answered per hour, the alert timeline, the staff ranking, and how to explore the data.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from hallkpi.ingest.report.data import (
    HallDay,
    ReportData,
    city,
    count,
    headline,
    mins,
    pct,
    ratio,
)
from hallkpi.ingest.report.staff import StaffRow
from hallkpi.ingest.report.svg import ALERT_COLORS, Axis, Chart, esc, timeline

# --- the page -----------------------------------------------------------------------------

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f4f7;color:#1f2430;font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
main{max-width:1360px;margin:0 auto;padding:28px 28px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:34px 0 12px}
.sub{color:#5b6270;margin:0 0 18px}.lead{font-size:16px;margin:16px 0 0}
.tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}
.tile{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px #0001}
.tile b{display:block;font-size:30px;line-height:1.15;margin:2px 0}
.tile small{font-size:15px;font-weight:600;color:#5b6270}
.tile span,.muted{color:#5b6270;font-size:12px}
.card{background:#fff;border-radius:12px;padding:16px 18px;box-shadow:0 1px 3px #0002}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.card h3{margin:0;font-size:17px;display:flex;gap:10px;align-items:center}
.dot{display:inline-block;width:11px;height:11px;border-radius:50%}
.badge{font-size:11px;font-weight:600;border-radius:9px;padding:2px 8px;background:#e6f4ea;
color:#1e7b34}
.badge.bad{background:#fde7e7;color:#b3261e}
.stats{display:flex;flex-wrap:wrap;gap:4px 16px;margin:8px 0 6px;color:#5b6270;font-size:12.5px}
.stats b{color:#1f2430;font-size:14px}
.legend{font-size:11.5px;color:#5b6270;margin:6px 0 0}
.legend i{display:inline-block;width:14px;height:8px;border-radius:2px;margin:0 4px 0 10px}
svg{display:block;max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{padding:6px 10px;text-align:right;border-bottom:1px solid #eceef2;white-space:nowrap}
th{font-size:12px;color:#5b6270;font-weight:600;background:#fafbfc}
td:first-child,th:first-child,td.l,th.l{text-align:left}
td.w{width:18%}
.bar{display:inline-block;height:8px;border-radius:4px;vertical-align:middle;margin-left:8px}
details summary{cursor:pointer;color:#3a5a8c;margin:10px 0}
pre{background:#1f2430;color:#e8eaf0;padding:14px 16px;border-radius:10px;overflow:auto;
font:12.5px/1.6 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:#e8eaf0;border-radius:4px;padding:1px 5px}
footer{margin-top:30px;color:#5b6270;font-size:12px}
"""


def _general(v: float) -> str:
    return f"{v:.3g}"


CALL_ALERTS = frozenset({"low_answer_rate", "call_queue"})
_ALERT_VALUE: dict[str, Callable[[float], str]] = {
    "wait_timeout": mins,
    "dissatisfaction": pct,
    "low_answer_rate": pct,
}


def _when(ms: int, tz: str) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%H:%M")


def tile(label: str, value: str, note: str = "") -> str:
    """A headline figure; a unit after a space is set smaller."""
    number, _, unit = value.partition(" ")
    small = f" <small>{esc(unit)}</small>" if unit else ""
    return (
        f'<div class="tile"><span>{esc(label)}</span><b>{esc(number)}{small}</b>'
        f"<span>{esc(note)}</span></div>"
    )


def hall_card(h: HallDay, data: ReportData, scale: dict[str, Axis]) -> str:
    tz = data.timezone
    mine = [i for i in data.intervals if i.lane.startswith(h.name + " · ")]
    queue = Chart(data.t0, data.t1, tz, scale["waiting"], scale["p90"], label=f"{h.name} queue")
    flow = Chart(data.t0, data.t1, tz, scale["served"], scale["answer"], height=150)
    for it in mine:  # call alerts shade the calls chart, the others the queue chart
        chart = flow if it.alert in CALL_ALERTS else queue
        chart.band(it.start, it.end, ALERT_COLORS.get(it.alert, "#e15759"), it.lane)
    queue.area(h.times, h.waiting, h.color)
    queue.line(h.times, h.wait_p90, "#2f3a4a", right=True, width=1.6)
    hours = sorted(h.served)
    flow.bars(hours, 3_600_000, [h.served[t] for t in hours], h.color)
    answer = sorted(h.answer)
    flow.line([t + 1_800_000 for t in answer], [h.answer[t] for t in answer], "#2f3a4a", right=True)
    fired = int(0 if math.isnan(h.get("alerts_fired")) else h.get("alerts_fired"))
    badge = (
        f'<span class="badge bad">{fired} alert{"s" if fired != 1 else ""}</span>'
        if fired
        else '<span class="badge">no alerts</span>'
    )
    stats = [
        ("issued", count(h.get("issued"))),
        ("served", count(h.get("served"))),
        ("mean wait", mins(h.get("wait_mean_s"))),
        ("p90 wait", mins(h.get("wait_p90_s"))),
        ("no-show", pct(h.get("no_show_rate"), 1)),
        ("calls answered", pct(h.get("answer_rate"))),
        ("rating", "-" if math.isnan(h.get("rating_mean")) else f"{h.get('rating_mean'):.2f} ★"),
    ]
    return (
        f'<section class="card"><h3><span class="dot" style="background:{h.color}"></span>'
        f"{esc(h.name)} {badge}</h3>"
        '<div class="stats">'
        + "".join(f"<span>{k} <b>{v}</b></span>" for k, v in stats)
        + "</div>"
        + queue.svg()
        + f'<div class="legend"><i style="background:{h.color};opacity:.5"></i>waiting (left)'
        '<i style="background:#2f3a4a;height:3px"></i>p90 wait of the last 15 min (right)'
        '<i style="background:#e15759;opacity:.3"></i>a queue alert firing</div>'
        + flow.svg()
        + f'<div class="legend"><i style="background:{h.color}"></i>served per hour (left)'
        '<i style="background:#2f3a4a;height:3px"></i>calls answered (right)'
        '<i style="background:#4e79a7;opacity:.3"></i>a call alert firing</div>'
        "</section>"
    )


def city_chart(data: ReportData) -> str:
    top = Axis.fit([v for h in data.halls for v in h.waiting], title="waiting")
    chart = Chart(data.t0, data.t1, data.timezone, top, width=1300, height=240, label="waiting")
    for h in data.halls:
        chart.line(h.times, h.waiting, h.color, width=2.2)
    legend = "".join(f'<i style="background:{h.color}"></i>{esc(h.name)}' for h in data.halls)
    return chart.svg() + f'<div class="legend">people waiting in each hall:{legend}</div>'


def halls_table(data: ReportData) -> str:
    worst = max(
        [h.get("wait_p90_s") for h in data.halls if not math.isnan(h.get("wait_p90_s"))] or [1]
    )
    head = (
        "hall",
        "issued",
        "served",
        "mean wait",
        "p90 wait",
        "no-show",
        "answer rate",
        "rating",
        "alerts",
    )
    rows = []
    for h in data.halls:
        p90 = h.get("wait_p90_s")
        width = 0 if math.isnan(p90) else round(120 * p90 / worst)
        rows.append(
            f'<tr><td><span class="dot" style="background:{h.color}"></span> {esc(h.name)}</td>'
            f"<td>{count(h.get('issued'))}</td><td>{count(h.get('served'))}</td>"
            f"<td>{mins(h.get('wait_mean_s'))}</td>"
            f'<td class="l w">{mins(p90)}<span class="bar" style="width:{width}px;'
            f'background:{h.color}"></span></td>'
            f"<td>{pct(h.get('no_show_rate'), 1)}</td><td>{pct(h.get('answer_rate'), 1)}</td>"
            f"<td>{h.get('rating_mean'):.2f} ★</td><td>{count(h.get('alerts_fired'))}</td></tr>"
        )
    ths = "".join(f'<th class="{"l" if c in ("hall", "p90 wait") else ""}">{c}</th>' for c in head)
    return f'<table class="card"><tr>{ths}</tr>{"".join(rows)}</table>'


def staff_table(rows: Sequence[StaffRow], colors: dict[str, str]) -> str:
    head = "<tr><th>#</th><th class='l'>hall</th><th class='l'>staff</th><th>served</th>"
    head += "<th>handle mean</th><th>ratings</th><th>rating</th><th class='l'>score</th></tr>"
    body = []
    for r in rows:
        color = colors.get(r.hall, "#888")
        score = 0 if math.isnan(r.score) else r.score
        rating = "-" if math.isnan(r.rating_mean) else f"{r.rating_mean:.2f} ★"
        body.append(
            f"<tr><td>{r.rank_city}</td><td class='l'><span class='dot' "
            f"style='background:{color}'></span> {esc(r.hall)}</td><td class='l'>{esc(r.staff)}"
            f"</td><td>{r.served}</td><td>{mins(r.handle_mean_s)}</td><td>{r.ratings}</td>"
            f"<td>{rating}</td><td class='l'>{score:.0f}<span class='bar' style='width:"
            f"{round(score * 1.6)}px;background:{color}'></span></td></tr>"
        )
    return f'<table class="card">{head}{"".join(body)}</table>'


def alerts_section(data: ReportData) -> str:
    if not data.intervals:
        return '<p class="muted">No alert fired this day.</p>'
    lanes = sorted({i.lane for i in data.intervals})
    chart = timeline(lanes, data.intervals, data.t0, data.t1, data.timezone, width=1300)
    kinds = sorted({i.alert for i in data.intervals})
    legend = "".join(
        f'<i style="background:{ALERT_COLORS.get(k, "#e15759")}"></i>{k}' for k in kinds
    )
    rows = []
    for i in sorted(data.intervals, key=lambda i: i.start):
        fmt = _ALERT_VALUE.get(i.alert, _general)
        value = "-" if i.peak is None else fmt(i.peak)
        hall, _ = i.lane.split(" · ", 1)
        color = ALERT_COLORS.get(i.alert, "#e15759")
        end = "still firing" if i.open else _when(i.end, data.timezone)
        rows.append(
            f"<tr><td>{_when(i.start, data.timezone)}</td><td class='l'>{esc(hall)}</td>"
            f"<td class='l'><span class='dot' style='background:{color}'>"
            f"</span> {esc(i.alert)}</td><td>{end}"
            f"</td><td>{(i.end - i.start) / 60000:.0f} min</td><td>{value}</td>"
            f"<td>{fmt(i.threshold)}</td></tr>"
        )
    table = (
        '<details><summary>every alert, in order</summary><table class="card"><tr><th>fired</th>'
        "<th class='l'>hall</th><th class='l'>alert</th><th>resolved</th><th>for</th>"
        f"<th>value when fired</th><th>threshold</th></tr>{''.join(rows)}</table></details>"
    )
    return f'<div class="card">{chart}<div class="legend">{legend}</div></div>{table}'


def explore_section(data: ReportData, data_dir: str) -> str:
    url = data.store_url
    until = (dt.date.fromisoformat(data.date) + dt.timedelta(days=1)).isoformat()
    lines = [
        "# every stored event through the engine again (its clock moves with the events only)",
        f"hallkpi replay --from-store {url}",
        "# a KPI through the day, hour by hour, one curve per hall (--plot draws it)",
        f"hallkpi trends --store {url} --kpi wait_p90_s --by-hall --until {until} --days 1",
        f"hallkpi trends --store {url} --kpi waiting --by-hall --bucket 15m --until {until} "
        "--days 1 --plot waiting.html",
        "# staff figures, score and ranks of the day",
        f"hallkpi report staff --store {url} --date {data.date}",
    ]
    return (
        f"<p>The day is in an embedded ClickHouse (chDB) store at <code>{esc(url)}</code>, "
        f"database <code>hallkpi</code>: tables <code>events</code> (the raw log), "
        "<code>hall_kpis</code> (every KPI of every hall and horizon, every simulated minute), "
        "<code>staff_kpis</code>, <code>alerts</code>. This page and <code>summary.json</code> "
        f"are in <code>{esc(data_dir)}</code>. Each <code>make demo</code> clears the store "
        "first. To explore:</p><pre>" + "\n".join(esc(x) for x in lines) + "</pre>"
    )


def render(data: ReportData, *, data_dir: str, run_note: str = "") -> str:
    """The whole page."""
    c = city(data)
    all_halls = data.halls
    scale = {
        "waiting": Axis.fit([v for h in all_halls for v in h.waiting]),
        "p90": Axis.fit([v for h in all_halls for v in h.wait_p90], lambda v: f"{v:g} min"),
        "served": Axis.fit([v for h in all_halls for v in h.served.values()]),
        "answer": Axis(1.0, 0.5, lambda v: f"{v:.0%}"),
    }
    day = dt.date.fromisoformat(data.date)
    tiles = "".join(
        [
            tile("tickets issued", count(c["issued"]), f"in {len(all_halls)} halls"),
            tile("served", count(c["served"]), pct(ratio(c["served"], c["issued"])) + " of issued"),
            tile("mean wait", mins(c["wait_mean_s"]), "issue to first call"),
            tile("90% called within", mins(c["wait_p90_s"]), "all halls"),
            tile("no-shows", pct(c["no_show_rate"], 1), "of tickets called"),
            tile(
                "calls answered", pct(c["answer_rate"], 1), f"of {count(c['calls_offered'])} calls"
            ),
            tile("satisfaction", f"{c['rating_mean']:.2f} ★", "mean rating, 1-5"),
            tile("alerts fired", count(c["alerts_fired"]), "see the timeline"),
        ]
    )
    colors = {h.name: h.color for h in all_halls}
    staff = data.staff
    ranking = (
        '<div class="grid"><div><h3>Top 10</h3>'
        + staff_table(staff[:10], colors)
        + "</div><div><h3>Lowest 10</h3>"
        + staff_table(staff[-10:], colors)
        + f"</div></div><details><summary>all {len(staff)} staff</summary>"
        + staff_table(staff, colors)
        + "</details>"
    )
    cards = "".join(hall_card(h, data, scale) for h in all_halls)
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>hallkpi: {day:%d %b %Y}</title><style>{CSS}</style></head><body><main>"
        f"<h1>Tax halls, {day:%A %d %B %Y}</h1>"
        f"<p class='sub'>{len(all_halls)} halls and their phone lines, "
        f"{_when(data.t0, data.timezone)}-{_when(data.t1, data.timezone)} ({data.timezone}). "
        f"{esc(run_note)}</p>"
        f"<div class='tiles'>{tiles}</div><p class='lead'>{headline(data)}</p>"
        f"<h2>Queues through the day</h2><div class='card'>{city_chart(data)}</div>"
        f"<h2>Halls</h2>{halls_table(data)}<div class='grid' style='margin-top:18px'>{cards}</div>"
        f"<h2>Alerts</h2>{alerts_section(data)}"
        "<h2>Staff ranking</h2><p class='muted'>Score 0-100: percentile ranks among the city's "
        "staff of served (30%), handle time against the service's typical time (25%), rating "
        "(25%), dissatisfied ratings (10%) and no-shows (10%).</p>"
        f"{ranking}<h2>The data</h2>{explore_section(data, data_dir)}"
        "<footer>Written by <code>hallkpi demo</code> from the store alone; a single file with "
        "inline SVG, no scripts, nothing fetched.</footer></main></body></html>\n"
    )
