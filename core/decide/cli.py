"""``hallkpi erlang``: the Erlang C staffing table for an arrival rate and handle time."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hallkpi.core.decide.erlang import QueueingError, erlang_a, erlang_c_model, servers_needed
from hallkpi.core.errors import CommandError


def table(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per number of servers around the one needed for the target."""
    need = servers_needed(
        args.arrivals_per_h,
        args.handle_s,
        target_wait_s=args.target_wait_s,
        target_level=args.target_level,
    )
    load = args.arrivals_per_h * args.handle_s / 3600
    first = max(1, int(load) + 1, need - 3)
    rows = []
    for n in range(first, max(need, first) + 4):
        m = erlang_c_model(n, args.arrivals_per_h, args.handle_s)
        row: dict[str, Any] = {
            "servers": n,
            "p_wait": m.p_wait,
            "service_level": m.service_level(args.target_wait_s),
            "asa_s": m.asa_s,
            "occupancy": m.occupancy,
            "meets_target": m.service_level(args.target_wait_s) >= args.target_level,
        }
        if args.patience_s:
            a = erlang_a(n, args.arrivals_per_h, args.handle_s, args.patience_s)
            row["abandon_rate_a"] = a.p_abandon
            row["service_level_a"] = a.service_level(args.target_wait_s)
            row["asa_s_a"] = a.asa_s
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    try:
        rows = table(args)
        need = servers_needed(
            args.arrivals_per_h,
            args.handle_s,
            target_wait_s=args.target_wait_s,
            target_level=args.target_level,
        )
    except QueueingError as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        json.dump({"servers_needed": need, "rows": rows}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    load = args.arrivals_per_h * args.handle_s / 3600
    print(
        f"{args.arrivals_per_h:g} arrivals/h x {args.handle_s:g} s = {load:.2f} Erlangs; "
        f"target {args.target_level:.0%} within {args.target_wait_s:g} s"
    )
    head = f"{'servers':>7}  {'P(wait)':>7}  {'SL':>6}  {'ASA s':>8}  {'occupancy':>9}"
    if args.patience_s:
        head += f"  {'abandon(A)':>10}  {'SL(A)':>6}  {'ASA(A) s':>8}"
    print(head)
    for r in rows:
        mark = "  <- needed" if r["servers"] == need else ""
        line = (
            f"{r['servers']:>7}  {r['p_wait']:>7.4f}  {r['service_level']:>6.3f}  "
            f"{r['asa_s']:>8.2f}  {r['occupancy']:>9.1%}"
        )
        if args.patience_s:
            line += (
                f"  {r['abandon_rate_a']:>10.2%}  {r['service_level_a']:>6.3f}"
                f"  {r['asa_s_a']:>8.2f}"
            )
        print(line + mark)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "erlang",
        help="Erlang C staffing table",
        description="Probability of waiting, service level, average speed of answer and "
        "occupancy per number of servers (Erlang C; Erlang A with --patience-s).",
    )
    p.add_argument("--arrivals-per-h", type=float, required=True, help="arrivals per hour")
    p.add_argument("--handle-s", type=float, required=True, help="mean handle time, seconds")
    p.add_argument("--target-wait-s", type=float, default=20, help="service level time (20)")
    p.add_argument("--target-level", type=float, default=0.8, help="service level goal (0.8)")
    p.add_argument("--patience-s", type=float, help="mean patience: adds Erlang A columns")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
