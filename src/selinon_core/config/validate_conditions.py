"""Validation of condition trees: their shape (on raw YAML) and their predicates (on the model).

Shape rules: a leaf is ``{name, node?, args?}``; ``and``/``or`` take a non-empty list;
``not`` takes one condition (not a list).  Predicate rules: the name exists in the predicates
module; ``args`` give every required parameter and nothing else; a predicate reading
``message`` needs a source node of the edge (``node``, defaulting to the only source) that is a
task storing its results, or a path ``flow2/Task3`` through sub-flows ending at such a task;
starting edges and failure conditions cannot read results.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from selinon_core.config.conditions import PredicateParams, predicate_parameters
from selinon_core.config.spec import AllOf, AnyOf, Condition, FlowSpec, Not, Predicate, TaskSpec
from selinon_core.config.validate_common import Reporter, did_you_mean
from selinon_core.config.yamlsource import Path_
from selinon_core.errors import SpecError

__all__ = ["ConditionScope", "PredicateTable", "check_condition", "check_condition_shape"]

_LEAF_KEYS = ("name", "node", "args")
_CONDITION_KEYS = ("name", "node", "args", "and", "or", "not")


def check_condition_shape(raw: Any, path: Path_, rep: Reporter) -> bool:
    """Check the structure of a raw condition; report problems and return whether it is sound."""
    if raw is None:
        return True
    if not isinstance(raw, dict) or not raw:
        rep.error(
            path,
            f"a condition must be a mapping with 'name', 'and', 'or' or 'not', got {raw!r}",
        )
        return False
    if "name" in raw:
        return _leaf_shape(raw, path, rep)
    operators = [key for key in raw if key in ("and", "or", "not")]
    unknown = [key for key in raw if key not in _CONDITION_KEYS]
    for key in unknown:
        hint = did_you_mean(key, _CONDITION_KEYS) or "use 'name', 'and', 'or' or 'not'"
        rep.error((*path, key), f"unknown condition key {key!r}", hint, key=True)
    if unknown:
        return False
    if len(operators) != 1 or len(raw) != 1:
        rep.error(path, "a condition has exactly one of 'name', 'and', 'or', 'not'")
        return False
    return _operator_shape(raw, operators[0], path, rep)


def _leaf_shape(raw: dict[str, Any], path: Path_, rep: Reporter) -> bool:
    ok = True
    for key in raw:
        if key not in _LEAF_KEYS:
            hint = did_you_mean(key, _LEAF_KEYS) or "a predicate has only 'name', 'node', 'args'"
            rep.error((*path, key), f"unknown predicate key {key!r}", hint, key=True)
            ok = False
    if not isinstance(raw["name"], str) or not raw["name"]:
        rep.error(
            (*path, "name"), f"predicate name must be a non-empty string, got {raw['name']!r}"
        )
        ok = False
    if raw.get("node") is not None and not isinstance(raw["node"], str):
        rep.error((*path, "node"), f"'node' must be a node name, got {raw['node']!r}")
        ok = False
    if raw.get("args") is not None and not isinstance(raw["args"], dict):
        rep.error((*path, "args"), f"'args' must be a mapping, got {raw['args']!r}")
        ok = False
    return ok


def _operator_shape(raw: dict[str, Any], op: str, path: Path_, rep: Reporter) -> bool:
    child = raw[op]
    if op == "not":
        if isinstance(child, list) or child is None:
            rep.error((*path, op), "'not' takes one condition, not a list or nothing")
            return False
        return check_condition_shape(child, (*path, op), rep)
    if not isinstance(child, list) or not child:
        rep.error((*path, op), f"{op!r} takes a non-empty list of conditions")
        return False
    results = [check_condition_shape(c, (*path, op, i), rep) for i, c in enumerate(child)]
    if any(c is None for c in child):
        rep.error((*path, op), f"{op!r} has an empty entry")
        return False
    return all(results)


@dataclass(frozen=True)
class PredicateTable:
    """The predicates available for lookup.

    Attributes:
        module: the configured predicates module (as written in YAML).
        functions: predicate name to callable; ``None`` when the module was not checked, in
            which case only the node rules are applied.
    """

    module: str
    functions: Mapping[str, Callable[..., Any]] | None


@dataclass(frozen=True)
class ConditionScope:
    """Where a condition sits: the edge's source nodes and the system's tasks and flows."""

    sources: tuple[str, ...]
    failure: bool
    tasks: Mapping[str, TaskSpec]
    flows: Mapping[str, FlowSpec]
    predicates: PredicateTable


def check_condition(cond: Condition, path: Path_, scope: ConditionScope, rep: Reporter) -> None:
    """Check every predicate of ``cond`` (which sits at ``path``) against ``scope``."""
    match cond:
        case Predicate():
            _check_leaf(cond, path, scope, rep)
        case AllOf():
            for i, child in enumerate(cond.and_):
                check_condition(child, (*path, "and", i), scope, rep)
        case AnyOf():
            for i, child in enumerate(cond.or_):
                check_condition(child, (*path, "or", i), scope, rep)
        case Not():
            check_condition(cond.not_, (*path, "not"), scope, rep)


def _check_leaf(leaf: Predicate, path: Path_, scope: ConditionScope, rep: Reporter) -> None:
    params = _params(leaf, path, scope.predicates, rep)
    unchecked = scope.predicates.functions is None and leaf.name == "httpStatus"
    if unchecked or (params is not None and params.uses_http_probe):
        rep.warn(
            (*path, "name"),
            f"predicate {leaf.name!r} makes a network call from the dispatcher each time the "
            "condition is evaluated",
            "a task that checks the URL and an edge condition on its result keep the "
            "dispatcher free of network waits",
        )
    if params is None:
        return
    missing, unexpected = params.check_args(frozenset(leaf.args))
    for name in sorted(missing):
        rep.error((*path, "args"), f"predicate {leaf.name!r} needs argument {name!r} in 'args'")
    for name in sorted(unexpected):
        valid = params.required | params.optional
        hint = did_you_mean(name, valid) or (
            f"it takes {', '.join(sorted(valid))}" if valid else "it takes no arguments"
        )
        rep.error((*path, "args", name), f"predicate {leaf.name!r} has no argument {name!r}", hint)
    if params.uses_message:
        _check_message(leaf, path, scope, rep)
    elif leaf.node is not None:
        rep.warn(
            (*path, "node"),
            f"predicate {leaf.name!r} does not read a task result, so 'node' is ignored",
        )


def _params(
    leaf: Predicate, path: Path_, table: PredicateTable, rep: Reporter
) -> PredicateParams | None:
    if table.functions is None:
        return None
    fn = table.functions.get(leaf.name)
    if fn is None:
        hint = did_you_mean(leaf.name, table.functions) or f"see module {table.module!r}"
        rep.error((*path, "name"), f"unknown predicate {leaf.name!r}", hint)
        return None
    try:
        return predicate_parameters(fn)
    except SpecError as exc:
        rep.error((*path, "name"), exc.problems[0].message)
        return None


def _check_message(leaf: Predicate, path: Path_, scope: ConditionScope, rep: Reporter) -> None:
    if scope.failure:
        rep.error(
            (*path, "name"),
            f"predicate {leaf.name!r} reads a task result, which a failure condition cannot do",
        )
        return
    if not scope.sources:
        rep.error(
            (*path, "name"),
            f"predicate {leaf.name!r} reads a task result, but a starting edge has no source",
        )
        return
    node = leaf.node
    if node is None:
        if len(scope.sources) != 1:
            rep.error(
                path,
                f"predicate {leaf.name!r} must say which source node it reads",
                f"add 'node:' with one of {', '.join(scope.sources)}",
            )
            return
        node = scope.sources[0]
    _check_node_path(leaf.name, node, (*path, "node"), scope, rep)


def _check_node_path(
    predicate: str, node: str, path: Path_, scope: ConditionScope, rep: Reporter
) -> None:
    parts = node.split("/")
    if parts[0] not in scope.sources:
        hint = did_you_mean(parts[0], scope.sources) or f"sources: {', '.join(scope.sources)}"
        rep.error(path, f"node {parts[0]!r} read by predicate {predicate!r} is not a source", hint)
        return
    for outer, inner in itertools.pairwise(parts):
        flow = scope.flows.get(outer)
        if flow is None:
            rep.error(path, f"{outer!r} in node path {node!r} is not a sub-flow")
            return
        members = flow_nodes(flow)
        if inner not in members:
            rep.error(
                path, f"{inner!r} is not a node of flow {outer!r}", did_you_mean(inner, members)
            )
            return
    last = parts[-1]
    task = scope.tasks.get(last)
    if task is None:
        rep.error(
            path,
            f"predicate {predicate!r} reads the result of {last!r}, which is a sub-flow",
            f"name a task inside it, e.g. '{node}/<Task>'",
        )
    elif task.storage is None:
        rep.error(
            path,
            f"predicate {predicate!r} reads task {last!r}, which has no storage",
            f"give task {last!r} a 'storage' so its results can be read",
        )
    elif task.storage_read_only:
        rep.error(
            path,
            f"predicate {predicate!r} reads task {last!r}, whose storage is read-only",
            f"results of task {last!r} are not stored; drop 'storage_read_only'",
        )


def flow_nodes(flow: FlowSpec) -> set[str]:
    """Every node name a flow mentions in its edges and failures."""
    names: set[str] = set()
    for edge in flow.edges:
        names.update(edge.from_, edge.to)
    for failure in flow.failures:
        names.update(failure.nodes)
        if failure.fallback is not True:
            names.update(failure.fallback)
    return names
