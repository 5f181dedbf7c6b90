"""The selective-run plan: a plain value carried by ``FlowRequested`` and ``RunTask``.

It lives apart from the planner (:mod:`selinon_core.dispatch.selective`) so that the wire types
(events, actions, state) import no graph library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SelectivePlan"]


@dataclass(frozen=True, slots=True)
class SelectivePlan:
    """Which edges of which flows may fire, and which of their destinations may start.

    Attributes:
        task_names: the tasks the user asked for; always run, never reused.
        follow_subflows: whether sub-flows containing the tasks were planned too.
        run_subsequent: whether nodes after the requested tasks run as well.
        edges: ``{flow_name: {edge_index: (destination names allowed to start, ...)}}``;
            an edge of a flow listed here but absent from its mapping never fires.
    """

    task_names: tuple[str, ...]
    follow_subflows: bool = False
    run_subsequent: bool = False
    edges: Mapping[str, Mapping[int, tuple[str, ...]]] = field(default_factory=dict)

    def allowed(self, flow_name: str, edge_index: int) -> tuple[str, ...] | None:
        """Destinations of the edge allowed to start, or ``None`` when the edge may not fire."""
        return self.edges.get(flow_name, {}).get(edge_index)

    def plans_flow(self, flow_name: str) -> bool:
        """Whether the plan has an entry for ``flow_name``."""
        return flow_name in self.edges

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (edge indexes become strings)."""
        return {
            "task_names": list(self.task_names),
            "follow_subflows": self.follow_subflows,
            "run_subsequent": self.run_subsequent,
            "edges": {
                flow: {str(idx): list(dests) for idx, dests in edges.items()}
                for flow, edges in self.edges.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SelectivePlan:
        """Inverse of :meth:`to_dict`."""
        return cls(
            task_names=tuple(data["task_names"]),
            follow_subflows=bool(data.get("follow_subflows", False)),
            run_subsequent=bool(data.get("run_subsequent", False)),
            edges={
                flow: {int(idx): tuple(dests) for idx, dests in edges.items()}
                for flow, edges in data.get("edges", {}).items()
            },
        )
