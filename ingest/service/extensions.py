"""Where the service sends extension events (contract v1.2): a family -> handler registry.

A room that owns an extension family (``appointment``, ``eticket`` and ``quote`` are the
web room's; ``case``, ``callback``, ``credit`` other rooms') registers a handler::

    from hallkpi.ingest.service import extensions
    extensions.register("appointment", handler, lookback_days=62)

``handler(record, recovered)`` gets each validated event of the family as a plain dict
(``hallkpi.core.engine.extension_record``: id, type, ts, hall, its own fields) when the
engine applied it (``recovered`` False), and again, oldest first, when a restarted
service replays the store (``recovered`` True; ``lookback_days`` back from now, at
least today). The service stores the event (table ``extension_events``) and
acknowledges its message only once it is stored, as every event. A handler must be
quick (it runs in the event loop) and must not raise: an exception is logged once per
kind, counted in ``extension_handler_errors`` and the event is stored all the same. An
event of a family nobody registered is stored and counted ``extension_unrouted``.

Rooms outside the service are loaded from the ``hallkpi.extensions`` entry point group:
each entry point names a callable ``setup(registry)`` that ``hallkpi serve`` calls at
start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from hallkpi.core.engine import extension_family

log = logging.getLogger("hallkpi.ingest.service")

Handler = Callable[[dict[str, Any], bool], None]
ENTRY_POINT_GROUP = "hallkpi.extensions"


@dataclass
class _Family:
    handler: Handler
    lookback_days: int


@dataclass
class Extensions:
    """The registry; :data:`REGISTRY` is the service's."""

    families: dict[str, _Family] = field(default_factory=dict)
    unrouted: int = 0
    errors: int = 0
    _logged: set[str] = field(default_factory=set)

    def register(self, family: str, handler: Handler, *, lookback_days: int = 0) -> None:
        """Routes the events of ``family`` to ``handler`` (a second registration of the
        same family replaces the first: a restarted room in the same process)."""
        if not family or "." in family:
            raise ValueError(f"a family is the part of a type before its dot, not {family!r}")
        if lookback_days < 0:
            raise ValueError("lookback_days must be >= 0")
        self.families[family] = _Family(handler, lookback_days)

    def unregister(self, family: str) -> None:
        self.families.pop(family, None)

    def lookback_days(self) -> int:
        """How many days back recovery replays (the longest of the families)."""
        return max((f.lookback_days for f in self.families.values()), default=0)

    def dispatch(self, record: dict[str, Any], *, recovered: bool = False) -> None:
        """Hands ``record`` to its family's handler; never raises."""
        family = extension_family(str(record.get("type")))
        entry = self.families.get(family) if family is not None else None
        if entry is None:
            self.unrouted += 1
            return
        try:
            entry.handler(record, recovered)
        except Exception as exc:
            self.errors += 1
            kind = f"{family}: {type(exc).__name__}"
            if kind not in self._logged and len(self._logged) < 100:
                self._logged.add(kind)
                log.error(
                    "the %s handler failed on %s (logged once)",
                    family,
                    record.get("type"),
                    exc_info=exc,
                )

    def load_plugins(self) -> list[str]:
        """Calls ``setup(self)`` of each ``hallkpi.extensions`` entry point; returns
        their names. A failing plugin is logged and skipped (the service still serves
        everything else)."""
        names = []
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                ep.load()(self)
                names.append(ep.name)
            except Exception:
                log.exception("extension plugin %s failed to load", ep.name)
        return names


REGISTRY = Extensions()
"""The registry of the service in this process."""


def register(family: str, handler: Handler, *, lookback_days: int = 0) -> None:
    """``REGISTRY.register``: see the module doc."""
    REGISTRY.register(family, handler, lookback_days=lookback_days)
