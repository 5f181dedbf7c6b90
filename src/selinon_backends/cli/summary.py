"""The summary ``selinon-cli execute`` writes to stderr when a run ends.

One line for the run, then one per failed node: what failed, why (``Type: message``) and, when
the flow's ``failures`` section covered it, which fallback ran.  With ``-v`` the traceback of
each failed task follows its line.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from collections.abc import Iterable

from selinon_backends.runtime.report import FlowRun, NodeRun
from selinon_core.config.spec import SystemSpec

__all__ = ["MAX_FAILURES_SHOWN", "fallbacks_run", "render_summary"]

MAX_FAILURES_SHOWN = 20
"""Failed nodes listed one by one; more are counted on one line (the report has them all)."""


def render_summary(run: FlowRun, spec: SystemSpec, *, verbosity: int = 0) -> str:
    """The summary of ``run``: a headline and one entry per failed node.

    Args:
        run: the finished (or interrupted) run.
        spec: the configuration it ran, to tell which failures a fallback handled.
        verbosity: 1 or more adds the traceback of every failed task.
    """
    failed = [r for r in run.runs if r.status == "failed"]
    lines = [
        f"Flow {run.flow_name!r} ({run.flow_id}) {run.status} in {run.duration:.3f}s: "
        f"{len(run.runs)} node runs, {len(failed)} failed."
    ]
    by_flow: dict[str, list[NodeRun]] = defaultdict(list)
    if failed:
        for other in run.runs:
            by_flow[other.flow_id].append(other)
    for record in failed[:MAX_FAILURES_SHOWN]:
        entry = _failure(record)
        fallbacks = fallbacks_run(record, spec, by_flow[record.flow_id])
        if fallbacks:
            entry += f" [handled by fallback: {', '.join(fallbacks)}]"
        lines.append(entry)
        if verbosity and record.traceback:
            lines.append(textwrap.indent(record.traceback.rstrip("\n"), "    | "))
    if len(failed) > MAX_FAILURES_SHOWN:
        more = len(failed) - MAX_FAILURES_SHOWN
        lines.append(f"  ... and {more} more failed nodes (--report PATH lists them all)")
    if failed and not verbosity and any(r.traceback for r in failed):
        lines.append("  (run with -v to see the traceback of each failed task)")
    return "\n".join(lines)


def _failure(record: NodeRun) -> str:
    why = record.error if record.error is not None else "failed"
    where = f"({record.node_id}) in flow {record.flow_name!r}"
    return f"  {record.kind} {record.node_name!r} {where}: {why}"


def fallbacks_run(record: NodeRun, spec: SystemSpec, runs: Iterable[NodeRun]) -> list[str]:
    """The fallbacks of ``record``'s flow that cover its node and ran in the same flow instance.

    ``runs`` are the node runs to look in (those of ``record``'s flow instance suffice).

    Returns ``["(ignored)"]`` for an entry with ``fallback: true`` (the failure is accepted
    without starting anything), else ``"name (node id)"`` per fallback node that was started.
    """
    flow = spec.flows.get(record.flow_name)
    if flow is None:
        return []
    names: set[str] = set()
    ignored = False
    for entry in flow.failures:
        if record.node_name not in entry.nodes:
            continue
        if entry.fallback is True:
            ignored = True
        else:
            names.update(entry.fallback)
    found = [
        f"{other.node_name} ({other.node_id})"
        for other in runs
        if other.flow_id == record.flow_id and other.node_name in names and other is not record
    ]
    if not found and ignored:
        return ["(ignored: fallback true)"]
    return found
