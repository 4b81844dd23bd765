"""The decision support inside ``hallkpi serve``: live staffing advice once a minute and
the quoted wait of every status.

:class:`LiveDecisions` is driven by the service's clock tick. Every ``observe_every_s``
it hands each owned hall's counters to the wait predictor
(:mod:`hallkpi.core.decide.quoted_wait`); every ``[advice] interval_s`` it computes each hall's
advice (:mod:`hallkpi.core.decide.advice`), returns it as a retained QoS 1 message on
``{prefix}/halls/{hall}/advice`` and queues its rows for the ``advice`` table.
:meth:`LiveDecisions.extra_status` is HallService's ``extra_status`` hook: it adds
``quoted_wait_s``, ``quoted_wait_p10_s`` and ``quoted_wait_p90_s`` to the status.

:class:`AdviceRecorder` inserts the advice rows from a thread of its own, one Native
block a second at most. It does not go through the StoreWriter and its spool (whose
tables are the raw log and KPI history): while the store is down it keeps up to
``max_pending`` hall advice documents (two rows each) and retries; beyond that the
oldest are dropped with a warning.
Advice is derived data: ``hall_kpis`` keeps the figures it was computed from.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
import numpy as np
from hallkpi.core.decide.advice import AdviceSettings, HallAdvice, hall_advice
from hallkpi.core.decide.quoted_wait import QuotedWaitSettings, WaitPredictor
from hallkpi.core.engine import Engine
from hallkpi.core.errors import ConfigError
from hallkpi.ingest.errors import StoreError
from hallkpi.ingest.service.topics import Topics
from hallkpi.ingest.store.connection import Store
from hallkpi.ingest.store.native import PackedStrings, encode_block
from hallkpi.ingest.store.schema import ADVICE

log = logging.getLogger("hallkpi.ingest.service")
_encode = msgspec.json.encode
Message = tuple[str, bytes, bool]


def advice_columns(advice: Sequence[HallAdvice]) -> dict[str, Any]:
    """``advice`` table columns: one row per hall and kind (windows, agents)."""
    rows = [(a, x) for a in advice for x in (a.windows, a.agents) if x is not None]

    def num(name: str) -> np.ndarray[Any, Any]:
        return np.array(
            [np.nan if getattr(x, name) is None else getattr(x, name) for _, x in rows],
            np.float64,
        )

    return {
        "ts": np.array([a.ts for a, _ in rows], np.int64),
        "hall": PackedStrings.from_strs([a.hall for a, _ in rows]),
        "kind": PackedStrings.from_strs([x.kind for _, x in rows]),
        "action": PackedStrings.from_strs([x.action for _, x in rows]),
        "change": np.array([x.change for _, x in rows], np.int32),
        "open": np.array([x.open for _, x in rows], np.uint32),
        "needed": np.array([x.needed for _, x in rows], np.uint32),
        "waiting": np.array([x.waiting for _, x in rows], np.uint32),
        "arrivals_per_h": num("arrivals_per_h"),
        "handle_s": num("handle_s"),
        "service_level_now": num("service_level_now"),
        "service_level_advised": num("service_level_advised"),
        "target_wait_s": num("target_wait_s"),
        "target_level": num("target_level"),
        "text": PackedStrings.from_strs([x.text for _, x in rows]),
    }


def write_advice(store: Store, advice: Sequence[HallAdvice]) -> int:
    """Inserts the rows of ``advice`` now (one Native block); returns the row count."""
    cols = advice_columns(advice)
    n = len(cols["ts"])
    if n:
        block = encode_block([(name, typ, cols[name]) for name, typ in ADVICE.columns], n)
        store.insert_native(ADVICE.name, ADVICE.column_names, block)
    return n


class AdviceRecorder:
    """Stores advice from a background thread (see the module doc)."""

    def __init__(self, store: Store, *, max_pending: int = 50_000, period_s: float = 1.0) -> None:
        self.store = store
        self.max_pending = max_pending
        self.period_s = period_s
        self.written = 0
        self.dropped = 0
        self._pending: list[HallAdvice] = []
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="hallkpi-advice", daemon=True)
        self._thread.start()

    def add(self, advice: Sequence[HallAdvice]) -> None:
        with self._cond:
            self._pending.extend(advice)
            over = len(self._pending) - self.max_pending
            if over > 0:
                del self._pending[:over]
                self.dropped += over
                log.warning("advice dropped: the store has been down too long")
            self._cond.notify_all()

    def _run(self) -> None:
        delay = self.period_s
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closing, timeout=delay)
                batch, closing = list(self._pending), self._closing
            if batch:
                try:
                    self.written += write_advice(self.store, batch)
                    with self._cond:
                        del self._pending[: len(batch)]
                    delay = self.period_s
                except StoreError as exc:
                    log.warning("storing advice failed (will retry): %s", exc)
                    delay = min(delay * 2, 30.0)
                except Exception:  # a bug must not stop the advice, nor the service
                    log.exception("storing advice failed (will retry)")
                    delay = min(delay * 2, 30.0)
            if closing:
                return

    def close(self, timeout: float | None = 10.0) -> None:
        """Writes what is pending (one attempt) and stops the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)


class LiveDecisions:
    """Advice and quoted waits of one service worker; see the module doc."""

    def __init__(
        self,
        engine: Engine,
        *,
        topics: Topics | None = None,
        owns: Callable[[str], bool] = lambda hall: True,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        raw = config or {}
        self.engine = engine
        self.topics = topics or Topics()
        self.owns = owns
        self.advice = AdviceSettings.from_config(raw)
        missing = {self.advice.arrivals_horizon, self.advice.handle_horizon} - set(
            engine.horizons()
        )
        if missing:
            raise ConfigError(f"[advice] horizons {sorted(missing)} are not engine horizons")
        self.predictor = WaitPredictor(QuotedWaitSettings.from_config(raw))
        self.recorder: AdviceRecorder | None = None
        self.last: dict[str, HallAdvice] = {}
        self._advice_at: int | None = None

    def record_to(self, store: Store) -> None:
        """Stores the advice in ``store`` from now on."""
        self.recorder = AdviceRecorder(store)

    def close(self, timeout: float | None = 10.0) -> None:
        if self.recorder is not None:
            self.recorder.close(timeout)

    def extra_status(self, hall: str, doc: dict[str, Any]) -> None:
        """HallService's ``extra_status`` hook: the quoted wait fields."""
        self.predictor.add_to_status(hall, doc)

    def tick(self, now_ms: int) -> list[Message]:
        """Observes the halls when due and, once an interval, returns the advice
        messages (and queues their rows for the store)."""
        observe = self.predictor.due(now_ms)
        advise = (
            self._advice_at is None or now_ms - self._advice_at >= self.advice.interval_s * 1000
        )
        if not (observe or advise):
            return []
        if advise:
            self._advice_at = now_ms
        out: list[Message] = []
        fresh = []
        for hall in self.engine.halls():
            if not self.owns(hall):
                continue
            doc = self.engine.hall(hall)
            if observe:
                today, now = doc["today"], doc["now"]
                self.predictor.observe(
                    hall,
                    now_ms,
                    called_today=int(today["called_first"]),
                    cancelled_today=int(today["cancelled"]),
                    waiting=int(now["waiting"]),
                    open_windows=int(now["open_windows"]),
                )
            if advise:
                a = hall_advice(hall, doc, self.advice, ts=now_ms)
                self.last[hall] = a
                fresh.append(a)
                out.append((self.topics.advice(hall), _encode(a.as_dict()), True))
        if fresh and self.recorder is not None:
            self.recorder.add(fresh)
        return out
