"""Validators for the shared Grafana schemas (``../shared/data/grafana``)."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def sdk_schema(root: Path, name: str) -> dict[str, Any]:
    return _load(root / "foundation-sdk-jsonschema" / f"{name}.jsonschema.json")


def definition(root: Path, name: str, ref: str) -> Draft7Validator:
    """A validator for ``#/definitions/ref`` of an SDK schema."""
    schema = copy.deepcopy(sdk_schema(root, name))
    defs = schema["definitions"]
    # The SDK's export turns CUE's `_` (any) into "object" in two places where Grafana's
    # own types say `any`: an override's `value` (a unit override is the string "s") and
    # a matcher's `options` (the SDK's own override_by_name puts the field name there).
    # Those two accept any value; everything else is validated as exported.
    if "DynamicConfigValue" in defs:
        defs["DynamicConfigValue"]["properties"]["value"] = {}
    if "MatcherConfig" in defs:
        defs["MatcherConfig"]["properties"]["options"] = {}
    return Draft7Validator({"$ref": f"#/definitions/{ref}", "definitions": defs})


def errors(validator: Draft7Validator, instance: Any, where: str) -> list[str]:
    return [
        f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in validator.iter_errors(instance)
    ]


def file_schema(root: Path, name: str) -> Draft7Validator:
    return Draft7Validator(_load(root / name))
