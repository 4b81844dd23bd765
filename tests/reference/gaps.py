"""Reference model of upstream loss detection (contract v1.1; docs/SEMANTICS.md,
"Upstream loss"): for every (producer, epoch) stream the set of seqs received, and for
every seq found missing its own record. Slow and literal: the oracle of the engine's
gap detector (which keeps ranges and holes instead)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, int]  # (producer, epoch)


@dataclass
class Missing:
    """A seq between the lowest and the highest received that has not arrived."""

    since_ts: int  # ts of the event that revealed it
    hall: str  # hall of that event
    due: int  # engine time from which it counts as lost
    order: int  # which reveal (a hole) it belongs to, in reveal order
    reported: bool = False


@dataclass
class Stream:
    received: set[int]
    last_ts: int
    missing: dict[int, Missing] = field(default_factory=dict)


def range_text(producer: str, epoch: int, lo: int, hi: int) -> str:
    """How an alert's detail names a range: ``kiosk-3 seq 3-4``, ``p epoch 9 seq 2``."""
    out = producer + (f" epoch {epoch}" if epoch else "") + f" seq {lo}"
    return out + (f"-{hi}" if hi != lo else "")


def events_text(n: int) -> str:
    return f"{n} event" if n == 1 else f"{n} events"


class GapModel:
    """The gap detector and the ``events_lost_upstream`` alert of one engine."""

    def __init__(self, *, grace_ms: int, alert_ms: int) -> None:
        self.grace_ms = grace_ms
        self.alert_ms = alert_ms
        self.streams: dict[Key, Stream] = {}
        self.recovered = 0
        self.repeats = 0
        self.changes: list[dict[str, Any]] = []
        self.seen = False
        self.hall_state: dict[str, str] = {}  # halls with a sequenced event -> ok/firing
        self.last_report: dict[str, int] = {}
        self.firing: list[str] = []  # halls in the order they fired
        self._reveals = 0

    # ------------------------------------------------------------------------ input

    def on_event(self, event: dict[str, Any], now: int) -> None:
        """An applied event with ``producer`` and ``seq``; ``now`` is the clock after it."""
        producer, seq, epoch = event["producer"], event["seq"], event.get("epoch", 0)
        hall, ts = event["hall"], event["ts"]
        self.seen = True
        self.hall_state.setdefault(hall, "ok")
        st = self.streams.get((producer, epoch))
        if st is None:
            self.streams[(producer, epoch)] = Stream({seq}, ts)
            return
        st.last_ts = max(st.last_ts, ts)
        if seq in st.received:
            self.repeats += 1
            return
        if seq in st.missing:
            m = st.missing.pop(seq)
            if m.reported:
                self.recovered += 1
                self._filled(producer, epoch, seq, m, now)
        else:
            low, high = min(st.received), max(st.received)
            revealed = range(high + 1, seq) if seq > high else range(seq + 1, low)
            self._reveals += 1
            for x in revealed:
                st.missing[x] = Missing(ts, hall, now + self.grace_ms, self._reveals)
        st.received.add(seq)

    def _filled(self, producer: str, epoch: int, seq: int, m: Missing, now: int) -> None:
        last = self.changes[-1] if self.changes else None
        if (
            last is not None
            and last["state"] == "filled"
            and (last["producer"], last["epoch"]) == (producer, epoch)
            and last["last_seq"] + 1 == seq
            and (last["since_ts"], last["hall"]) == (m.since_ts, m.hall)
        ):
            last["last_seq"] = seq
            last["missing"] += 1
            last["ts"] = now
            return
        self.changes.append(_record((producer, epoch), seq, seq, m, now=now, state="filled"))

    # ------------------------------------------------------------------------ checks

    def check(self, now: int) -> list[tuple[str, str, float, str]]:
        """Reports what is due at ``now``; returns the alert changes as (hall, state,
        value, detail)."""
        due = sorted(
            (m.order, key, seq, m)
            for key, st in self.streams.items()
            for seq, m in st.missing.items()
            if not m.reported and m.due <= now
        )
        runs: list[list[tuple[int, Key, int, Missing]]] = []
        for item in due:
            item[3].reported = True
            prev = runs[-1][-1] if runs else None
            if prev is not None and prev[:2] == item[:2] and prev[2] + 1 == item[2]:
                runs[-1].append(item)
            else:
                runs.append([item])
        found: dict[str, list[Any]] = {}  # hall -> [count, ranges], first report first
        for run in runs:
            (producer, epoch), lo, hi, m = run[0][1], run[0][2], run[-1][2], run[0][3]
            self.changes.append(_record((producer, epoch), lo, hi, m, now=now, state="missing"))
            if self.alert_ms > 0:
                f = found.setdefault(m.hall, [0, []])
                f[0] += len(run)
                f[1].append(f"{range_text(producer, epoch, lo, hi)} ({len(run)})")
        out: list[tuple[str, str, float, str]] = []
        for hall, (count, ranges) in found.items():
            self.last_report[hall] = now
            if self.hall_state[hall] == "firing":
                continue
            self.hall_state[hall] = "firing"
            self.firing.append(hall)
            text = ", ".join(ranges[:5])
            if len(ranges) > 5:
                text += f", and {len(ranges) - 5} more ranges"
            detail = f"{events_text(count)} lost upstream: {text}"
            out.append((hall, "firing", float(count), detail))
        for hall in list(self.firing):
            if now >= self.last_report[hall] + self.alert_ms:
                self.hall_state[hall] = "ok"
                self.firing.remove(hall)
                still = sum(1 for _, _, m in self._reported() if m.hall == hall)
                detail = (
                    f"no new loss upstream for {self.alert_ms // 1000} s; "
                    f"{events_text(still)} still missing"
                )
                out.append((hall, "ok", 0.0, detail))
        return out

    def forget_idle(self, cutoff: int) -> None:
        """Once a day: streams with nothing missing and no event since ``cutoff``."""
        for key in [k for k, st in self.streams.items() if not st.missing and st.last_ts < cutoff]:
            del self.streams[key]

    # ----------------------------------------------------------------------- reading

    def _reported(self) -> list[tuple[Key, int, Missing]]:
        return [
            (key, seq, m)
            for key, st in self.streams.items()
            for seq, m in st.missing.items()
            if m.reported
        ]

    def producer_gaps(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for key, seq, m in sorted(self._reported(), key=lambda r: (r[0], r[1])):
            last = out[-1] if out else None
            if last and (last["producer"], last["epoch"]) == key and last["last_seq"] + 1 == seq:
                last["last_seq"] = seq
                last["missing"] += 1
            else:
                rec = _record(key, seq, seq, m, now=0, state="")
                del rec["state"], rec["ts"]
                out.append(rec)
        return out

    def diagnostics(self) -> dict[str, int]:
        return {
            "upstream_lost_events": len(self._reported()),
            "upstream_gaps": len(self.producer_gaps()),
            "upstream_recovered_events": self.recovered,
            "seq_repeats": self.repeats,
            "producers": len(self.streams),
            "producers_overflow": 0,
            "upstream_gaps_forgotten": 0,
        }

    def drain_changes(self) -> list[dict[str, Any]]:
        out, self.changes = self.changes, []
        return out


def _record(key: Key, lo: int, hi: int, m: Missing, *, now: int, state: str) -> dict[str, Any]:
    return {
        "producer": key[0],
        "epoch": key[1],
        "hall": m.hall,
        "first_seq": lo,
        "last_seq": hi,
        "missing": hi - lo + 1,
        "since_ts": m.since_ts,
        "state": state,
        "ts": now,
    }
