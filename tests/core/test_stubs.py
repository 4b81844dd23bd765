"""The hand-written stub core/_engine.pyi names exactly what the compiled module has."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from hallkpi.core import _engine

STUB = Path(__file__).resolve().parents[2] / "core" / "_engine.pyi"


def stub_names() -> tuple[set[str], dict[str, set[str]]]:
    tree = ast.parse(STUB.read_text())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    classes = {
        n.name: {m.name for m in n.body if isinstance(m, ast.FunctionDef)}
        for n in tree.body
        if isinstance(n, ast.ClassDef)
    }
    return functions, classes


def public(obj: object) -> set[str]:
    return {
        name
        for name, _ in inspect.getmembers(obj)
        if not name.startswith("__") and not name.startswith("_pybind11")
    }


def test_module_functions_match_the_stub() -> None:
    functions, classes = stub_names()
    compiled = {n for n in public(_engine) if callable(getattr(_engine, n))} - set(classes)
    assert compiled == functions


def test_engine_methods_match_the_stub() -> None:
    _, classes = stub_names()
    methods = classes["Engine"] - {"__init__"}
    assert public(_engine.Engine) == methods
