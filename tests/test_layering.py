"""The import layering of ARCHITECTURE.md, checked on the source (ast), not by importing.

Rules (``../shared/design/ARCHITECTURE.md`` and ``docs/ARCHITECTURE.md``):

* ``core`` imports nothing of ``ingest``, ``telephony`` or ``dashboards``; inside core,
  ``core.sim`` and ``core.decide`` import nothing of the engine face or of each other;
* ``telephony`` and ``dashboards`` import nothing of ``ingest`` (nor of each other);
* inside ``ingest``, each room imports only the rooms below it: ``store`` nothing of
  ``service``, ``report``, ``decide``, ``demo``; ``service`` nothing of ``report``,
  ``decide``, ``demo``; ``report`` nothing of ``service``, ``decide``, ``demo``;
  ``decide`` nothing of ``service``, ``demo``; nothing imports ``demo``;
* command modules (the ``hallkpi.commands`` entry points, and ``core.cli``) are leaves:
  no module imports one; command glue (``store.cli_options``, ``decide.options``) is
  imported only by command modules and other glue;
* no ``from x import _private`` across modules (``_engine``, the extension module, is
  core's own: core may import it).

Imports are read at any depth (also inside functions and ``if TYPE_CHECKING``): a lazy
import still points the same way.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "ingest", "telephony", "dashboards")
ROOMS = ("store", "service", "report", "decide", "demo", "credit")

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": ("hallkpi.ingest", "hallkpi.telephony", "hallkpi.dashboards"),
    "core.sim": ("hallkpi.core.engine", "hallkpi.core.config", "hallkpi.core.decide"),
    "core.decide": ("hallkpi.core.engine", "hallkpi.core.config", "hallkpi.core.sim"),
    "telephony": ("hallkpi.ingest", "hallkpi.dashboards"),
    "dashboards": ("hallkpi.ingest", "hallkpi.telephony"),
    "ingest": ("hallkpi.ingest.demo",),
    "ingest.store": (
        "hallkpi.ingest.service",
        "hallkpi.ingest.report",
        "hallkpi.ingest.decide",
        "hallkpi.ingest.demo",
    ),
    "ingest.service": ("hallkpi.ingest.report", "hallkpi.ingest.decide", "hallkpi.ingest.demo"),
    "ingest.report": ("hallkpi.ingest.service", "hallkpi.ingest.decide", "hallkpi.ingest.demo"),
    "ingest.decide": ("hallkpi.ingest.service", "hallkpi.ingest.demo"),
    "ingest.demo": (),
    "ingest.credit": (
        "hallkpi.ingest.service",
        "hallkpi.ingest.report",
        "hallkpi.ingest.decide",
        "hallkpi.ingest.demo",
    ),
}
GLUE = ("hallkpi.ingest.store.cli_options", "hallkpi.ingest.decide.options")
OWN_PRIVATE = {("hallkpi.core", "_engine")}  # the extension module, core's own


def command_modules() -> set[str]:
    """Modules named by the ``hallkpi.commands`` entry points, and the command line."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    commands = project["project"]["entry-points"]["hallkpi.commands"]
    return {target.split(":")[0] for target in commands.values()} | {"hallkpi.core.cli"}


COMMANDS = command_modules()


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            yield "hallkpi." + ".".join(parts), path


def imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) of every absolute import in ``path``, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, [a.name for a in node.names]


def room_of(module: str) -> str:
    """``core``, ``core.sim``, ``ingest.store``, ... of a module (or of a package)."""
    parts = module.split(".")  # hallkpi.<package>[.<room>[.<module>]]
    if len(parts) > 2 and parts[1] == "ingest" and parts[2] in ROOMS:
        return f"ingest.{parts[2]}"
    if len(parts) > 2 and parts[1] == "core" and parts[2] in ("sim", "decide"):
        return f"core.{parts[2]}"
    return parts[1]


def targets(module: str, names: list[str]) -> list[str]:
    """What an import reaches: ``from hallkpi.ingest.report import trends`` is the
    module ``hallkpi.ingest.report.trends``, so both the package and ``pkg.name``."""
    return [module] + [f"{module}.{n}" for n in names]


def violations(module: str, path: Path) -> list[str]:
    room = room_of(module)
    banned = FORBIDDEN.get(room, ())
    if "." in room:  # a room also keeps the rules of its package, except about itself
        own = f"hallkpi.{room}"
        banned += tuple(b for b in FORBIDDEN.get(room.split(".")[0], ()) if b != own)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    out = []
    for line, target, names in imports(path):
        where = f"{shown}:{line}"
        if not target.startswith("hallkpi."):
            continue
        if any(r == b or r.startswith(b + ".") for r in targets(target, names) for b in banned):
            out.append(f"{where}: {room} imports {target} {names or ''}")
        for reached in targets(target, names):
            if reached in COMMANDS and reached != module:
                out.append(f"{where}: {module} imports the command module {reached}")
            if reached in GLUE and module not in COMMANDS and module not in GLUE:
                out.append(f"{where}: {module} (no command) imports the command glue {reached}")
        for name in names:
            private = name.startswith("_") and not name.startswith("__")
            if private and target != module and (target, name) not in OWN_PRIVATE:
                out.append(f"{where}: {module} imports the private {target}.{name}")
    return sorted(set(out))


@pytest.mark.parametrize(("module", "path"), list(modules()), ids=str)
def test_imports_point_down(module: str, path: Path) -> None:
    assert violations(module, path) == []


def test_the_rules_see_every_room() -> None:
    """A room folder the rules do not know would be checked by its package's rules only."""
    rooms = {room_of(m) for m, _ in modules()}
    assert rooms == {
        "core",
        "core.sim",
        "core.decide",
        "telephony",
        "dashboards",
        "ingest",
        *(f"ingest.{r}" for r in ROOMS),
    }
    assert {f"ingest.{r}" for r in ROOMS} <= FORBIDDEN.keys()
    assert all(m.startswith("hallkpi.") for m in COMMANDS) and len(COMMANDS) > 10


def test_a_backwards_import_is_caught(tmp_path: Path) -> None:
    """The checker itself: a planted backwards, command and private import are each found."""
    plant = tmp_path / "planted.py"
    plant.write_text(
        "from hallkpi.ingest.service import app\n"
        "from hallkpi.ingest.report.cli import run_trends\n"
        "from hallkpi.ingest.store.jsonl import _DECODE_ONE\n"
    )
    found = violations("hallkpi.ingest.store.planted", plant)
    assert [int(v.split(":")[1]) for v in found] == [1, 2, 2, 3], found
    assert "store imports hallkpi.ingest.service" in found[0]
    assert "the command module hallkpi.ingest.report.cli" in " ".join(found)
    assert found[-1].endswith("the private hallkpi.ingest.store.jsonl._DECODE_ONE")


def test_the_in_process_demo_never_loads_gmqtt() -> None:
    """``hallkpi demo`` without ``--mqtt`` needs no MQTT client: importing it (and the
    report it writes) loads neither gmqtt nor the service."""
    code = (
        "import sys\n"
        "import hallkpi.ingest.demo.cli, hallkpi.ingest.demo.day, hallkpi.ingest.report.html\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('gmqtt', 'uvloop')"
        " or m.startswith('hallkpi.ingest.service')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert (out.returncode, out.stdout.strip()) == (0, "[]"), out.stderr[-2000:]
