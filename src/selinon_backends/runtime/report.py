"""What a run produced: :class:`NodeRun` per node instance, :class:`FlowRun` per requested flow.

``FlowRun.report()`` is the stable JSON contract documented in ``docs/report.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["FlowRun", "NodeKind", "NodeRun", "NodeStatus"]

NodeKind = Literal["task", "flow"]
NodeStatus = Literal["scheduled", "running", "succeeded", "failed"]


@dataclass(slots=True, eq=False)
class NodeRun:
    """One node instance started during a run (a task or a sub-flow), mutable while it runs.

    Attributes:
        flow_name: the flow the node ran in.
        flow_id: the id of that flow instance.
        node_name: the task or sub-flow name.
        node_id: the task id, or the sub-flow's flow id.
        kind: ``"task"`` or ``"flow"``.
        status: ``scheduled``, ``running``, ``succeeded`` or ``failed``.
        parent: the parent mapping the node received (``None`` when it got none).
        node_args: the arguments the node received.
        result: the stored result (tasks with a storage only), else ``None``.
        retries: how many times the task was retried.
        error: ``"Type: message"`` of the last failure, if any.
        nowait: whether the flow does not wait for the node.
    """

    flow_name: str
    flow_id: str
    node_name: str
    node_id: str
    kind: NodeKind
    parent: dict[str, Any] | None
    node_args: Any
    status: NodeStatus = "scheduled"
    result: Any = None
    retries: int = 0
    error: str | None = None
    nowait: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The report entry of this node (see ``docs/report.md``)."""
        return {
            "flow_name": self.flow_name,
            "flow_id": self.flow_id,
            "node_name": self.node_name,
            "node_id": self.node_id,
            "kind": self.kind,
            "status": "succeeded" if self.status == "succeeded" else "failed",
            "parent": self.parent,
            "node_args": self.node_args,
            "result": self.result,
            "retries": self.retries,
        }


@dataclass(slots=True, eq=False)
class FlowRun:
    """The outcome of ``Engine.run_flow``.

    Attributes:
        flow_name: the requested flow.
        flow_id: its flow (dispatcher) id.
        node_args: the arguments it was requested with.
        status: ``succeeded`` or ``failed``.
        runs: every node instance started, in start order, sub-flows at any depth included.
        duration: wall-clock seconds the run took (virtual time is not counted).
        flow_statuses: final status of every flow instance, keyed by flow id.
    """

    flow_name: str
    flow_id: str
    node_args: Any
    status: Literal["succeeded", "failed"] = "failed"
    runs: list[NodeRun] = field(default_factory=list)
    duration: float = 0.0
    flow_statuses: dict[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        """True when the flow succeeded."""
        return self.status == "succeeded"

    @property
    def results(self) -> dict[str, Any]:
        """Stored results of the tasks that have a storage, keyed by task id."""
        return {r.node_id: r.result for r in self.runs if r.kind == "task" and r.result is not None}

    def nodes(self, name: str) -> list[NodeRun]:
        """The instances of node ``name``, in start order."""
        return [r for r in self.runs if r.node_name == name]

    def report(self) -> dict[str, Any]:
        """The JSON report (a plain dict; see ``docs/report.md``)."""
        return {
            "flow_name": self.flow_name,
            "flow_id": self.flow_id,
            "status": self.status,
            "node_args": self.node_args,
            "duration_s": round(self.duration, 6),
            "runs": [r.to_dict() for r in self.runs],
        }
