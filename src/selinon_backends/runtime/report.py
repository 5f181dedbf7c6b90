"""What a run produced: :class:`NodeRun` per node instance, :class:`FlowRun` per requested flow.

``FlowRun.report()`` is the stable JSON contract documented in ``docs/report.md``;
:func:`write_report` writes it as text, fast: the runs are encoded by the C JSON encoder, one
line per run, and streamed in chunks, so that writing the report of a run of a hundred thousand
tasks costs a fraction of running them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Literal

__all__ = [
    "PRETTY_MAX_RUNS",
    "FlowRun",
    "NodeKind",
    "NodeRun",
    "NodeStatus",
    "ReportStatus",
    "build_report",
    "write_report",
]

NodeKind = Literal["task", "flow"]
NodeStatus = Literal["scheduled", "running", "succeeded", "failed"]
ReportStatus = Literal["succeeded", "failed", "interrupted"]

PRETTY_MAX_RUNS = 100
"""Reports with more runs than this are written one run per line (see :func:`write_report`)."""

_CHUNK = 2048
"""Runs encoded per write while streaming a report."""


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
        traceback: the formatted traceback of the last failure, when there was one.
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
    traceback: str | None = None

    def to_dict(self, *, final: bool = True) -> dict[str, Any]:
        """The report entry of this node (see ``docs/report.md``).

        Args:
            final: the run is over, so a node that did not succeed counts as failed; with
                ``False`` (an interrupted run) ``scheduled`` and ``running`` are kept.
        """
        status = self.status
        if final and status != "succeeded":
            status = "failed"
        error = self.error
        if error is None and status == "failed":
            error = _unfinished_error(self)
        return {
            "flow_name": self.flow_name,
            "flow_id": self.flow_id,
            "node_name": self.node_name,
            "node_id": self.node_id,
            "kind": self.kind,
            "status": status,
            "parent": self.parent,
            "node_args": self.node_args,
            "result": self.result,
            "retries": self.retries,
            "error": error,
            "traceback": self.traceback if error is not None else None,
        }


def _unfinished_error(record: NodeRun) -> str:
    """The ``error`` of a failed node that raised nothing itself (a sub-flow, a ``nowait`` node)."""
    if record.status != "failed":
        return "NotFinished: the node had not finished when its flow ended"
    if record.kind == "flow":
        return f"FlowError: sub-flow {record.node_name!r} ({record.node_id}) failed"
    return "TaskError: the task failed"


@dataclass(slots=True, eq=False)
class FlowRun:
    """The outcome of ``Engine.run_flow``.

    Attributes:
        flow_name: the requested flow.
        flow_id: its flow (dispatcher) id.
        node_args: the arguments it was requested with.
        status: ``succeeded`` or ``failed`` (``interrupted`` for a report of a run that was
            stopped, see :func:`build_report`).
        runs: every node instance started, in start order, sub-flows at any depth included.
        duration: wall-clock seconds the run took (virtual time is not counted).
        flow_statuses: final status of every flow instance, keyed by flow id.
    """

    flow_name: str
    flow_id: str
    node_args: Any
    status: ReportStatus = "failed"
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
        return build_report(self)


def build_report(run: FlowRun) -> dict[str, Any]:
    """The JSON report of ``run`` as a dict (the form :func:`write_report` writes)."""
    final = run.status != "interrupted"
    head = _head(run)
    head["runs"] = [r.to_dict(final=final) for r in run.runs]
    return head


def _head(run: FlowRun) -> dict[str, Any]:
    return {
        "flow_name": run.flow_name,
        "flow_id": run.flow_id,
        "status": run.status,
        "node_args": run.node_args,
        "duration_s": round(run.duration, 6),
    }


def write_report(run: FlowRun, stream: IO[str]) -> None:
    """Write the JSON report of ``run`` to ``stream``.

    The text is the document :meth:`FlowRun.report` returns (``json.loads`` of it is equal to
    that dict, values JSON cannot hold being written as their ``repr``).  A report of up to
    :data:`PRETTY_MAX_RUNS` runs is indented throughout, for reading; a larger one has one line
    per run: runs are then encoded in chunks by the C encoder and written as they are encoded
    (the indenting encoder is pure Python, several times slower than the run itself).
    """
    if len(run.runs) <= PRETTY_MAX_RUNS:
        stream.write(json.dumps(build_report(run), indent=2, default=repr) + "\n")
        return
    head = json.dumps(_head(run), indent=2, default=repr)
    stream.write(head[:-2] + ',\n  "runs": [')
    first = True
    for chunk in _chunks(run.runs, final=run.status != "interrupted"):
        stream.write(("\n    " if first else ",\n    ") + chunk)
        first = False
    stream.write("\n  ]\n}\n" if not first else "]\n}\n")


_BETWEEN = '}, {"flow_name": '
_BETWEEN_LINES = '},\n    {"flow_name": '
# The encoder escapes every '"' inside a string, so this text only ever occurs between JSON
# values: replacing it changes whitespace, never a value (a nested mapping whose first key is
# "flow_name" merely gets its own line too).


def _chunks(runs: Iterable[NodeRun], *, final: bool) -> Iterator[str]:
    """``runs`` encoded as JSON objects separated by ``",\\n    "``, in chunks of :data:`_CHUNK`."""
    encode = json.JSONEncoder(default=repr, separators=(", ", ": ")).encode
    batch: list[dict[str, Any]] = []
    for record in runs:
        batch.append(record.to_dict(final=final))
        if len(batch) == _CHUNK:
            yield encode(batch)[1:-1].replace(_BETWEEN, _BETWEEN_LINES)
            batch = []
    if batch:
        yield encode(batch)[1:-1].replace(_BETWEEN, _BETWEEN_LINES)
