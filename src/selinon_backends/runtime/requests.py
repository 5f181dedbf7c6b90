"""Checking a flow request before any runtime starts it (shared by every runtime's entry point)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from selinon_core.config.system import System
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.errors import UnknownFlowError

__all__ = ["FlowStarter", "check_flow", "selective_plan"]

Started = TypeVar("Started")


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


class FlowStarter(Generic[Started]):
    """``run_flow`` and ``run_flow_selective`` of every runtime's entry point.

    A runtime sets :attr:`system` and starts (or, in-process, runs) the flow in
    :meth:`_request`, whose answer both methods return: the in-process engine's report, the
    Kombu client's flow id, the Celery shim's ``AsyncResult``.
    """

    system: System

    def run_flow(
        self, flow_name: str, node_args: Any = None, *, flow_id: str | None = None
    ) -> Started:
        """Start flow ``flow_name`` (``flow_id``: a chosen id, else a new one).

        Raises:
            UnknownFlowError: the configuration has no such flow.
            RequestError: (in-process) ``flow_id`` names a flow that is still running.
        """
        return self._request(flow_name, node_args, flow_id, None)

    def run_flow_selective(
        self,
        flow_name: str,
        task_names: Sequence[str],
        node_args: Any = None,
        follow_subflows: bool = False,
        run_subsequent: bool = False,
        *,
        flow_id: str | None = None,
    ) -> Started:
        """Start only the parts of ``flow_name`` leading to ``task_names`` (Selinon semantics).

        Raises:
            UnknownFlowError: the configuration has no such flow.
            SelectiveNoPathError: a task is not reachable in the flow.
        """
        plan = selective_plan(
            self.system,
            flow_name,
            task_names,
            follow_subflows=follow_subflows,
            run_subsequent=run_subsequent,
        )
        return self._request(flow_name, node_args, flow_id, plan)

    def _request(
        self, flow_name: str, node_args: Any, flow_id: str | None, plan: SelectivePlan | None
    ) -> Started:
        """Start the flow (``plan``: the selective plan, if any); what the methods return."""
        raise NotImplementedError
