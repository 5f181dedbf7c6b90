"""Validation of a whole configuration, reporting every problem at once.

Input is the *assembled* raw data (``tasks``, ``flows``, ``storages``, ``global`` and all
``flow-definitions`` from every file) plus the :class:`SourceMap` that locates it.  The passes:

1. shape: each task, storage, flow and the global section is validated by its pydantic model on
   its own, so one bad entry does not hide the others (conditions are checked by hand first);
2. entities: names, clashes, storages, the flow listing (:mod:`validate_nodes`);
3. flows: edges, flags, failures, conditions (:mod:`validate_flows`);
4. references: user modules and attributes (:mod:`validate_imports`);
5. warnings: unused tasks and storages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from selinon_core.config.spec import FlowSpec, GlobalSpec, StorageSpec, SystemSpec, TaskSpec
from selinon_core.config.validate_common import Reporter
from selinon_core.config.validate_conditions import check_condition_shape
from selinon_core.config.validate_flows import NodeIndex, check_flow
from selinon_core.config.validate_imports import Reference, check_references, predicate_table
from selinon_core.config.validate_nodes import Pieces, check_entities, warn_unused
from selinon_core.config.validate_shape import salvage_model, validate_model
from selinon_core.config.yamlsource import SourceMap
from selinon_core.errors import Problem

__all__ = ["Outcome", "validate"]


@dataclass(frozen=True)
class Outcome:
    """The result of validation.

    Attributes:
        spec: the normalised configuration, or ``None`` when there are errors.
        errors: every error found.
        warnings: every warning found.
        references: the user callables that were imported successfully.
    """

    spec: SystemSpec | None
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    references: tuple[Reference, ...]


def validate(data: dict[str, Any], locations: SourceMap, *, check_imports: bool) -> Outcome:
    """Validate assembled raw configuration data; see the module docstring for the passes."""
    rep = Reporter(locations, data)
    pieces = _shape(data, rep)
    check_entities(pieces, rep)
    flows: dict[str, FlowSpec] = {}
    for _, flow in pieces.flows:
        flows.setdefault(flow.name, flow)
    index = NodeIndex(
        tasks={task.name: task for _, task in pieces.tasks},
        flows=flows,
        flow_names=frozenset({*flows, *(name for _, name in pieces.listed)}),
        predicates=predicate_table(pieces.global_, check_imports, rep),
        broken=frozenset(pieces.broken_names("tasks") | pieces.broken_names("flow-definitions")),
    )
    for position, flow in pieces.flows:
        check_flow(position, flow, index, rep)
    refs = check_references(pieces, check_imports, rep)
    warn_unused(pieces, flows, rep)
    spec = None
    if not rep.errors:
        spec = SystemSpec(
            tasks=tuple(task for _, task in pieces.tasks),
            storages=tuple(storage for _, storage in pieces.storages),
            flows=flows,
            global_=pieces.global_,
        )
    return Outcome(spec, tuple(rep.errors), tuple(rep.warnings), tuple(refs))


def _shape(data: dict[str, Any], rep: Reporter) -> Pieces:
    pieces = Pieces()
    for i, raw in _entries(data, "tasks", rep, required="no tasks defined"):
        task = validate_model(TaskSpec, raw, ("tasks", i), rep)
        if task is not None:
            pieces.tasks.append((i, task))
        else:
            _broken(pieces, "tasks", raw)
    for i, raw in _entries(data, "storages", rep):
        storage = validate_model(StorageSpec, raw, ("storages", i), rep)
        if storage is not None:
            pieces.storages.append((i, storage))
        else:
            _broken(pieces, "storages", raw)
    for i, raw in _entries(data, "flows", rep, required="no flows listed", mapping=False):
        if isinstance(raw, str) and raw:
            pieces.listed.append((i, raw))
        else:
            rep.error(("flows", i), f"a flow name must be a non-empty string, got {raw!r}")
    raw_global = data.get("global")
    if raw_global is not None:
        global_ = validate_model(GlobalSpec, raw_global, ("global",), rep)
        pieces.global_ = global_ or salvage_model(GlobalSpec, raw_global)
    _shape_flows(data, pieces, rep)
    return pieces


def _shape_flows(data: dict[str, Any], pieces: Pieces, rep: Reporter) -> None:
    for i, raw in _entries(data, "flow-definitions", rep):
        flow = validate_model(
            FlowSpec, _sound_conditions(raw, i, rep), ("flow-definitions", i), rep
        )
        if flow is not None:
            pieces.flows.append((i, flow))
        else:
            _broken(pieces, "flow-definitions", raw)


def _broken(pieces: Pieces, section: str, raw: Any) -> None:
    name = raw.get("name") if isinstance(raw, dict) else None
    if isinstance(name, str):
        pieces.broken.setdefault(section, set()).add(name)


def _entries(
    data: dict[str, Any], key: str, rep: Reporter, *, required: str = "", mapping: bool = True
) -> list[tuple[int, Any]]:
    value = data.get(key)
    if value is None:
        if required:
            rep.error((key,) if key in data else (), f"{required} (key {key!r})")
        return []
    if not isinstance(value, list):
        rep.error((key,), f"{key!r} must be a list, got {type(value).__name__}")
        return []
    found: list[tuple[int, Any]] = []
    for i, entry in enumerate(value):
        if mapping and not isinstance(entry, dict):
            rep.error((key, i), f"each entry of {key!r} must be a mapping, got {entry!r}")
        else:
            found.append((i, entry))
    return found


def _sound_conditions(raw: dict[str, Any], position: int, rep: Reporter) -> dict[str, Any]:
    """Check every condition's shape; replace unsound ones so the model reports nothing more."""
    result = dict(raw)
    for section in ("edges", "failures"):
        entries = raw.get(section)
        if not isinstance(entries, list):
            continue
        copied: list[Any] = []
        for j, entry in enumerate(entries):
            if isinstance(entry, dict) and "condition" in entry:
                path = ("flow-definitions", position, section, j, "condition")
                if not check_condition_shape(entry["condition"], path, rep):
                    copied.append({**entry, "condition": None})
                    continue
            copied.append(entry)
        result[section] = copied
    return result
