"""Helpers for the dispatcher tests: build Systems from compact flow definitions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from selinon_core.config.system import System
from selinon_core.dispatch.dispatcher import Dispatcher

PREDICATES = "dsp_predicates"


def _names(flow: Mapping[str, Any]) -> Iterable[str]:
    for edge in flow.get("edges", ()):
        for key in ("from", "to"):
            value = edge.get(key) or ()
            yield from [value] if isinstance(value, str) else value
    for failure in flow.get("failures", ()):
        nodes = failure["nodes"]
        yield from [nodes] if isinstance(nodes, str) else nodes
        fallback = failure["fallback"]
        if fallback is not True:
            yield from [fallback] if isinstance(fallback, str) else fallback


def make_system(
    flows: Mapping[str, Mapping[str, Any]],
    *,
    tasks: Mapping[str, Mapping[str, Any]] | None = None,
) -> System:
    """A System with ``flows``; every other node name becomes a plain task."""
    extra = dict(tasks or {})
    names = sorted({n for flow in flows.values() for n in _names(flow)} - set(flows))
    task_list = [{"name": n, "import": "app.tasks", **extra.get(n, {})} for n in names]
    flow_map = {name: {"name": name, **flow} for name, flow in flows.items()}
    return System.from_dict(
        {
            "tasks": task_list,
            "flows": flow_map,
            "global": {"predicates_module": PREDICATES},
        }
    )


def make_dispatcher(
    flows: Mapping[str, Mapping[str, Any]],
    *,
    tasks: Mapping[str, Mapping[str, Any]] | None = None,
) -> Dispatcher:
    """A Dispatcher over :func:`make_system`."""
    return Dispatcher(make_system(flows, tasks=tasks))


def edge(src: Any, dst: Any, **extra: Any) -> dict[str, Any]:
    """A compact edge definition."""
    return {"from": src, "to": dst, **extra}
