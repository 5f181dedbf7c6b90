"""Fallback selection: what to start when nothing is running and some nodes failed.

The failure entries of a flow are tried in a fixed order, precomputed in
:mod:`selinon_core.dispatch.tables`: the entries covering more failed node names first, then the
lexical order of their sorted node names.  An entry applies while every node it names has a failed
instance left.  Its ``(fallback, condition)`` rules are evaluated in definition order against the
flow arguments only; every true rule starts its fallback nodes (``fallback: true`` starts
nothing), and if any rule was true the oldest failed instance of each covered node is consumed.
If none was true the entry is abandoned for this round.  Fallback tasks receive the consumed
instances as their ``parent`` mapping (Selinon gave them none, issue #151).
"""

from __future__ import annotations

from typing import Any

from selinon_core.dispatch.edges import FlowArgsContext, evaluate
from selinon_core.dispatch.steps import StepTx
from selinon_core.dispatch.tables import FailureEntry
from selinon_core.trace import TraceName

__all__ = ["run_fallbacks"]


def run_fallbacks(tx: StepTx) -> None:
    """Start the fallbacks that cover the flow's failed nodes (call only when idle)."""
    for entry in tx.table.failures:
        while all(name in tx.failed for name in entry.nodes):
            applied, stop = _apply(tx, entry)
            if stop:
                return
            if not applied:
                break


def _consume(tx: StepTx, entry: FailureEntry) -> None:
    for name in entry.nodes:
        rest = tx.failed.get(name)[1:]
        tx.failed = tx.failed.set(name, rest) if rest else tx.failed.delete(name)


def _apply(tx: StepTx, entry: FailureEntry) -> tuple[bool, bool]:
    """Evaluate the rules of ``entry`` once; returns ``(some rule was true, stop searching)``."""
    parent = {name: tx.failed.get(name)[0] for name in entry.nodes}
    details: dict[str, Any] = {
        "nodes": [{"name": name, "id": nid} for name, nid in parent.items()],
        "condition_strs": [rule.condition_str for rule in entry.rules],
        "selective": tx.selective_flag(),
    }
    applied = stop = False
    ctx = FlowArgsContext(tx.node_args, getattr(tx.results, "http_probe", None))
    for rule in entry.rules:
        fallback = True if rule.fallback is True else list(rule.fallback)
        if rule.condition is not None and not evaluate(
            tx, rule.condition, ctx, nodes=details["nodes"]
        ):
            tx.emit(TraceName.FALLBACK_COND_FALSE, fallback=fallback, **details)
            continue
        applied = True
        tx.emit(TraceName.FALLBACK_COND_TRUE, fallback=fallback, **details)
        tx.emit(TraceName.FALLBACK_START, fallback=fallback, **details)
        if rule.fallback is True:
            continue
        for name in rule.fallback:
            tx.start_node(name, parent, why={"condition_str": rule.condition_str})
            stop = stop or tx.table.nodes[name].nowait
    if applied:
        _consume(tx, entry)
    return applied, stop
