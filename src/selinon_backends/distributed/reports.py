"""A distributed flow's report, built from its run journal (the JSON of ``execute --report``).

The dispatcher journals each node it starts (``s:`` entries) and each flow it finishes
(``f:``), the worker each task's last outcome (``o:``), the client the request itself (``r:``);
see :mod:`.journal`.  :func:`flow_run` turns those entries into the
:class:`~selinon_backends.runtime.report.FlowRun` the in-process runtime returns, so
``run --wait``, ``status`` and ``execute`` write the same report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selinon_backends.distributed.journal import Journal, root_of
from selinon_backends.otel import current_traceparent
from selinon_backends.runtime.report import FlowRun, NodeKind, NodeRun

__all__ = ["flow_run", "request_entry", "start_entry"]


def request_entry(flow_name: str, node_args: Any, at: float) -> dict[str, Any]:
    """The ``r:`` entry of a top-level flow request (with the caller's OpenTelemetry
    ``traceparent`` when a span is active: the flow's spans join the caller's trace)."""
    entry = {"flow_name": flow_name, "node_args": node_args, "t": at}
    traceparent = current_traceparent()
    if traceparent is not None:
        entry["traceparent"] = traceparent
    return entry


def start_entry(
    *,
    flow_name: str,
    flow_id: str,
    node_name: str,
    kind: str,
    parent: Any,
    node_args: Any,
    nowait: bool,
    at: float,
) -> dict[str, Any]:
    """The ``s:`` entry of a started task or sub-flow."""
    return {
        "flow_name": flow_name,
        "flow_id": flow_id,
        "node_name": node_name,
        "kind": kind,
        "parent": parent,
        "node_args": node_args,
        "nowait": nowait,
        "t": at,
    }


def _seq_key(node_id: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in node_id.split(".")[1:])


def _node(node_id: str, start: Mapping[str, Any], entries: Mapping[str, Any]) -> NodeRun:
    kind: NodeKind = "flow" if start.get("kind") == "flow" else "task"
    run = NodeRun(
        str(start.get("flow_name", "")),
        str(start.get("flow_id", "")),
        str(start.get("node_name", "")),
        node_id,
        kind,
        start.get("parent"),
        start.get("node_args"),
        nowait=bool(start.get("nowait", False)),
    )
    if kind == "flow":
        end = entries.get(f"f:{node_id}")
        run.status = end["status"] if end else "running"
        return run
    outcome = entries.get(f"o:{node_id}")
    if outcome:
        run.status = outcome.get("status", "scheduled")
        run.retries = int(outcome.get("retries", 0))
        run.result = outcome.get("result")
        run.error = outcome.get("error")
        run.traceback = outcome.get("traceback")
    return run


def flow_run(journal: Journal, flow_id: str) -> FlowRun | None:
    """The report of top-level flow ``flow_id`` so far; ``None`` when the journal has no record.

    Nodes are listed in start order (start time, then node sequence number); a node still
    running reports ``failed`` in the JSON report, as an unfinished in-process node would.
    """
    entries = journal.read(root=root_of(flow_id))
    request = entries.get(f"r:{flow_id}")
    if request is None:
        return None
    run = FlowRun(str(request.get("flow_name", "")), flow_id, request.get("node_args"))
    starts = [(key[2:], value) for key, value in entries.items() if key.startswith("s:")]
    starts.sort(key=lambda item: (float(item[1].get("t", 0.0)), _seq_key(item[0])))
    run.runs = [_node(node_id, start, entries) for node_id, start in starts]
    for key, value in entries.items():
        if key.startswith("f:"):
            run.flow_statuses[key[2:]] = str(value.get("status"))
    end = entries.get(f"f:{flow_id}")
    if end is not None:
        run.status = "succeeded" if end.get("status") == "succeeded" else "failed"
        run.duration = max(0.0, float(end.get("t", 0.0)) - float(request.get("t", 0.0)))
    return run
