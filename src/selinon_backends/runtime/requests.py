"""Checking a flow request before any runtime starts it (shared by every runtime's entry point)."""

from __future__ import annotations

from collections.abc import Sequence

from selinon_core.config.system import System
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.errors import UnknownFlowError

__all__ = ["check_flow", "selective_plan"]


def check_flow(system: System, flow_name: str) -> None:
    """Raise ``UnknownFlowError`` (listing the flows) when ``system`` has no flow ``flow_name``."""
    if not system.spec.is_flow(flow_name):
        known = ", ".join(sorted(system.spec.flows)) or "none"
        raise UnknownFlowError(f"unknown flow {flow_name!r} (flows: {known})")


def selective_plan(
    system: System,
    flow_name: str,
    task_names: Sequence[str],
    *,
    follow_subflows: bool,
    run_subsequent: bool,
) -> SelectivePlan:
    """The plan of a selective run of ``flow_name`` (Selinon's semantics).

    Raises:
        UnknownFlowError: the System has no such flow.
        SelectiveNoPathError: a task is not reachable in the flow.
    """
    from selinon_core.dispatch.selective import plan_selective_run  # noqa: PLC0415 - networkx

    check_flow(system, flow_name)
    return plan_selective_run(
        system.spec,
        flow_name,
        tuple(task_names),
        follow_subflows=follow_subflows,
        run_subsequent=run_subsequent,
    )
