"""The top-level request of a flow, as every distributed client makes it.

:func:`flow_request` checks the flow, journals the request (so ``status`` knows the flow from
the start) and builds the :class:`~selinon_core.dispatch.events.FlowRequested` event for the
flow's dispatcher queue.  The Kombu client and the Celery shim publish it, each its own way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from selinon_backends.distributed.journal import Journal, root_of
from selinon_backends.distributed.reports import request_entry
from selinon_backends.ports import Clock
from selinon_backends.runtime.ids import new_flow_id
from selinon_backends.runtime.requests import check_flow, selective_plan
from selinon_core.config.system import System
from selinon_core.dispatch.events import FlowRequested
from selinon_core.dispatch.plan import SelectivePlan

__all__ = ["FlowStarter", "flow_request"]

Started = TypeVar("Started")


def flow_request(
    system: System,
    journal: Journal,
    *,
    flow_name: str,
    node_args: Any,
    now: float,
    flow_id: str | None = None,
    plan: SelectivePlan | None = None,
) -> tuple[FlowRequested, str]:
    """The request event of a new flow and its dispatcher queue (the request is journaled).

    Raises:
        UnknownFlowError: the configuration has no such flow.
    """
    check_flow(system, flow_name)
    flow_id = flow_id or new_flow_id()
    entry = request_entry(flow_name, node_args, now)
    journal.write(root=root_of(flow_id), entries={f"r:{flow_id}": entry})
    event = FlowRequested(flow_id, flow_name, now, node_args, selective=plan)
    return event, system.spec.flows[flow_name].queue


class FlowStarter(Generic[Started]):
    """``run_flow`` and ``run_flow_selective`` of a distributed client.

    A client sets :attr:`system` and :attr:`clock`, gives its run journal in
    :meth:`_journal` and publishes the request its own way in :meth:`_publish_request`, whose
    answer the two methods return (a flow id, an ``AsyncResult``).
    """

    system: System
    clock: Clock

    def run_flow(
        self, flow_name: str, node_args: Any = None, *, flow_id: str | None = None
    ) -> Started:
        """Start flow ``flow_name`` (``flow_id``: a chosen id, else a random one).

        Raises:
            UnknownFlowError: the configuration has no such flow.
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
        """Start only the parts of ``flow_name`` leading to ``task_names``.

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
        event, queue = flow_request(
            self.system,
            self._journal(),
            flow_name=flow_name,
            node_args=node_args,
            now=self.clock.now(),
            flow_id=flow_id,
            plan=plan,
        )
        return self._publish_request(event, queue)

    def _journal(self) -> Journal:
        """The run journal where requests are written."""
        raise NotImplementedError

    def _publish_request(self, event: FlowRequested, queue: str) -> Started:
        """Publish ``event`` to the dispatchers of ``queue``; what ``run_flow`` returns."""
        raise NotImplementedError
