"""Child process of ``test_memory.py``: loads a JSON-lines file into a fresh Engine and
prints, as JSON, the resident-set growth and ``Engine.memory_bytes()``.

Run in its own process so that memory freed by earlier work (the simulator, other
benchmarks) cannot be reused by the engine and hide its growth. The file is read before
the first measurement; a throwaway Engine is built first so that one-time static tables
are not counted.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

from hallkpi.core.engine import Engine


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main(path: str) -> None:
    data = Path(path).read_bytes()
    Engine().push_jsonl(data[: data.index(b"\n") + 1])
    gc.collect()
    before = rss_bytes()
    engine = Engine()
    result = engine.push_jsonl(data)
    after = rss_bytes()
    out = {
        "rss_growth": after - before,
        "memory_bytes": engine.memory_bytes(),
        "halls": len(engine.halls()),
        "applied": result.applied,
        "rejected": result.rejected,
        "input_bytes": len(data),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
