"""The hand-written stub core/_engine.pyi names exactly what the compiled module has."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from hallkpi.core import _engine

STUB = Path(__file__).resolve().parents[2] / "core" / "_engine.pyi"


def _annotated(body: list[ast.stmt]) -> set[str]:
    return {
        n.target.id for n in body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }


def stub_names() -> tuple[set[str], dict[str, set[str]]]:
    tree = ast.parse(STUB.read_text())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    classes = {
        n.name: {m.name for m in n.body if isinstance(m, ast.FunctionDef)} | _annotated(n.body)
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


def test_every_class_and_constant_matches_the_stub() -> None:
    _, classes = stub_names()
    compiled = {n for n, v in inspect.getmembers(_engine, inspect.isclass) if not n.startswith("_")}
    assert compiled == set(classes)
    for name, members in classes.items():
        assert public(getattr(_engine, name)) == members - {"__init__"}, name
    constants = _annotated(ast.parse(STUB.read_text()).body)
    module = {
        n
        for n in public(_engine)
        if not callable(getattr(_engine, n)) and not inspect.ismodule(getattr(_engine, n))
    }
    assert module == constants
