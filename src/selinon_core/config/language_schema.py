"""A JSON Schema of the YAML configuration language, for editors and ``inspect --schema``.

The schema is derived from the pydantic models of :mod:`selinon_core.config.spec` and then widened
where YAML accepts more than the normalised model holds: a single name wherever a list of names
is allowed, ``null`` for empty values, and the alternative spellings Selinon's documentation uses
(``storage_readonly``, ``selective_run_function.function``).  It checks shape only; the
cross-references (unknown nodes, storages, predicates) are the loader's job.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from selinon_core.config.spec import (
    PROPAGATE_FLAGS,
    FlowSpec,
    GlobalSpec,
    StorageSpec,
    TaskSpec,
)

__all__ = ["language_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_NAME_LISTS = {
    "from",
    "to",
    "nodes",
    "fallback",
    "nowait",
    "eager_failures",
    "tasks",
    "run_subsequent",
    *PROPAGATE_FLAGS,
}
_REQUIRED_LISTS = {"to", "nodes", "tasks", "fallback"}
_NULLABLE = {"condition", "args", "failures", "global", "storages"}
_EXTRA_PROPERTIES: dict[str, dict[str, Any]] = {
    "TaskSpec": {
        "storage_readonly": {"type": "boolean", "description": "Alias of storage_read_only."}
    },
    "SelectiveRunFunctionSpec": {
        "function": {"type": "string", "description": "Alias of name (Selinon's docs)."}
    },
}


class _Document(BaseModel):
    """One YAML document: a nodes file, a flow file, or both in one."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    tasks: list[TaskSpec] | None = None
    flows: list[str] | None = None
    storages: list[StorageSpec] | None = None
    global_: GlobalSpec | None = Field(default=None, alias="global")
    flow_definitions: list[FlowSpec] | None = Field(default=None, alias="flow-definitions")


def language_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a configuration file.

    Returns:
        a fresh dict each call (the caller may modify it).
    """
    return copy.deepcopy(_build())


@lru_cache(maxsize=1)
def _build() -> dict[str, Any]:
    document = _Document.model_json_schema(by_alias=True, mode="validation")
    definitions = document.pop("$defs", {})
    for name, definition in definitions.items():
        _widen(definition)
        definition.get("properties", {}).update(copy.deepcopy(_EXTRA_PROPERTIES.get(name, {})))
        if name == "TaskSpec":
            definition["required"] = [r for r in definition.get("required", []) if r != "classname"]
    _widen(document, names=False)
    definitions["Document"] = document
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "Selinon-compatible flow configuration",
        "description": (
            "A nodes file (tasks, flows, storages, global), a flow file (flow-definitions), "
            "both in one, or a list of such documents."
        ),
        "anyOf": [
            {"$ref": "#/$defs/Document"},
            {"type": "array", "items": {"$ref": "#/$defs/Document"}},
        ],
        "$defs": definitions,
    }


def _widen(definition: dict[str, Any], *, names: bool = True) -> None:
    """Let properties take the shorthand forms YAML allows."""
    properties = definition.get("properties", {})
    for key, schema in list(properties.items()):
        options: list[dict[str, Any]] = [schema]
        name_list = names and key in _NAME_LISTS
        if name_list:
            options.append({"type": "string"})
        if (name_list and key not in _REQUIRED_LISTS) or key in _NULLABLE:
            options.append({"type": "null"})
        if key == "trace":
            options.append({"const": False})
            options.append({"type": "object"})
        if len(options) > 1:
            extra = {k: schema.pop(k) for k in ("title", "description", "default") if k in schema}
            properties[key] = {"anyOf": options, **extra}
