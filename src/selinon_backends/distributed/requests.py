"""The top-level request of a flow, as every distributed client makes it.

:func:`flow_request` checks the flow, journals the request (so ``status`` knows the flow from
the start) and builds the :class:`~selinon_core.dispatch.events.FlowRequested` event for the
flow's dispatcher queue.  The Kombu client and the Celery shim publish it, each its own way.
"""

from __future__ import annotations

from typing import Any, TypeVar

from selinon_backends.distributed.journal import Journal, root_of
from selinon_backends.distributed.reports import request_entry
from selinon_backends.ports import Clock
from selinon_backends.runtime.ids import new_flow_id
from selinon_backends.runtime.requests import FlowStarter, check_flow
from selinon_core.config.system import System
from selinon_core.dispatch.events import FlowRequested
from selinon_core.dispatch.plan import SelectivePlan

__all__ = ["JournaledStarter", "flow_request"]

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


class JournaledStarter(FlowStarter[Started]):
    """:class:`~selinon_backends.runtime.requests.FlowStarter` of a distributed client.

    A client sets :attr:`system` and :attr:`clock`, gives its run journal in :meth:`_journal`
    and publishes the request its own way in :meth:`_publish_request`, whose answer
    ``run_flow`` and ``run_flow_selective`` return (a flow id, an ``AsyncResult``).
    """

    clock: Clock

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
