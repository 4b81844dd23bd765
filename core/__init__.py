if __name__ != "hallkpi.core":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.core, not {__name__!r}")

# hallkpi.core: the KPI engine's Python face, its configuration and the command line.
#
#     from hallkpi.core import Engine
#     engine = Engine()
#     engine.push({"id": "e1", "type": "ticket.issued", "ts": 1764205200123, "hall": "yuhua",
#                  "ticket": "A023", "service": "invoice", "channel": "wechat"})
#     engine.snapshot()["halls"]["yuhua"]["now"]["waiting"]  # -> 1

from hallkpi.core.config import AlertRule, EngineConfig, load_config
from hallkpi.core.engine import (
    DEFAULT_RULES,
    GAUGE_KPIS,
    STAFF_KPIS,
    WINDOWED_KPIS,
    Engine,
    PushResult,
)
from hallkpi.core.errors import ConfigError, HallkpiError, InvalidEvent

__all__ = [
    "DEFAULT_RULES",
    "GAUGE_KPIS",
    "STAFF_KPIS",
    "WINDOWED_KPIS",
    "AlertRule",
    "ConfigError",
    "Engine",
    "EngineConfig",
    "HallkpiError",
    "InvalidEvent",
    "PushResult",
    "load_config",
]
