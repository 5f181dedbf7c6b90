"""The task API: subclass :class:`SelinonTask` and implement ``run(node_args)``.

Existing Selinon tasks keep working after changing ``from selinon import SelinonTask`` to
``from selinon_core import SelinonTask``.  The runtime that executes a task injects its
collaborators (results, errors, storages and a logger) through a :class:`TaskEnvironment`, so
this module does no I/O of its own::

    class Add(SelinonTask):
        def run(self, node_args):
            first = self.parent_task_result("Fetch")
            return {"sum": first["value"] + node_args["b"]}

A task may also define ``async def run``; the in-process runtime awaits it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from selinon_core.errors import NoParentNodeError, RequestError, RetryRequested

__all__ = ["SelinonTask", "TaskEnvironment"]


class TaskEnvironment(Protocol):
    """What a runtime hands to the tasks it runs (one object per runtime, shared by tasks).

    Attributes:
        log: the logger tasks get as ``self.log`` (any object with ``debug/info/warning/...``).
    """

    log: Any

    def result(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        """The stored result of task ``task_name`` (node id ``task_id``) run in ``flow_name``."""
        ...

    def error(self, *, task_id: str) -> BaseException | None:
        """The exception the task ``task_id`` failed with, or ``None`` if it did not fail."""
        ...

    def storage_of(self, *, task_name: str) -> Any:
        """The connected storage adapter of task ``task_name``, or ``None`` if it has none."""
        ...


class _Detached:
    """The environment of a task built outside a runtime (e.g. in a user's unit test)."""

    log: Any = None

    def result(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        raise RequestError(f"task {task_name!r} has no runtime to read results from")

    def error(self, *, task_id: str) -> BaseException | None:
        return None

    def storage_of(self, *, task_name: str) -> Any:
        return None


_DETACHED = _Detached()


class SelinonTask:
    """Base class of user tasks (Selinon's surface, unchanged).

    Attributes:
        flow_name: name of the flow the task runs in.
        task_name: name of the task (the YAML ``name``).
        parent: mapping of parent node names to their ids (nested for sub-flows).
        task_id: this node instance's id; stable across retries.
        dispatcher_id: id of the flow instance (Selinon's dispatcher id).
        log: a logger supplied by the runtime.
    """

    def __init__(
        self,
        flow_name: str,
        task_name: str,
        parent: Mapping[str, Any] | None,
        task_id: str,
        dispatcher_id: str,
        *,
        environment: TaskEnvironment | None = None,
    ) -> None:
        self.flow_name = flow_name
        self.task_name = task_name
        self.parent: Mapping[str, Any] = parent or {}
        self.task_id = task_id
        self.dispatcher_id = dispatcher_id
        self._env: TaskEnvironment = environment if environment is not None else _DETACHED
        self.log: Any = self._env.log

    def run(self, node_args: Any) -> Any:
        """Compute the task's result from ``node_args``; override it (``async def`` allowed).

        Raises:
            NotImplementedError: the subclass did not implement it.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")

    @property
    def storage(self) -> Any:
        """The connected storage adapter assigned to this task (``None`` if it has none)."""
        return self._env.storage_of(task_name=self.task_name)

    def parent_task_result(self, parent_name: str) -> Any:
        """The stored result of the parent task ``parent_name``.

        Raises:
            NoParentNodeError: ``parent_name`` is not a parent of this task.
        """
        try:
            task_id = self.parent[parent_name]
        except KeyError:
            raise NoParentNodeError(
                f"task {self.task_name!r} has no parent task {parent_name!r}"
            ) from None
        return self._env.result(flow_name=self.flow_name, task_name=parent_name, task_id=task_id)

    def parent_flow_result(
        self, flow_names: str | Sequence[str], task_name: str, index: int = -1
    ) -> Any:
        """The stored result of ``task_name`` run inside the parent sub-flow ``flow_names``.

        Args:
            flow_names: the sub-flow's name, or a path of names for nested sub-flows.
            task_name: the task inside that sub-flow.
            index: which instance of the task (in finish order); the last one by default.

        Raises:
            NoParentNodeError: no such sub-flow, task or instance among the parents.
        """
        names, task_id = self._parent_flow_node(flow_names, task_name, index)
        return self._env.result(flow_name=names[-1], task_name=task_name, task_id=task_id)

    def parent_task_exception(self, parent_name: str) -> BaseException:
        """The exception the parent task ``parent_name`` failed with.

        Raises:
            NoParentNodeError: ``parent_name`` is not a parent of this task.
            RequestError: the parent did not fail.
        """
        try:
            task_id = self.parent[parent_name]
        except KeyError:
            raise NoParentNodeError(
                f"task {self.task_name!r} has no parent task {parent_name!r}"
            ) from None
        return self._failure_of(parent_name, task_id)

    def parent_flow_exception(
        self, flow_names: str | Sequence[str], task_name: str, index: int = -1
    ) -> BaseException:
        """The exception ``task_name`` of parent sub-flow ``flow_names`` failed with.

        Raises:
            NoParentNodeError: no such sub-flow, task or instance among the parents.
            RequestError: that task did not fail.
        """
        _, task_id = self._parent_flow_node(flow_names, task_name, index)
        return self._failure_of(task_name, task_id)

    def retry(self, countdown: float = 0) -> None:
        """Run this task again after ``countdown`` seconds; not counted against ``max_retry``.

        Raises:
            RetryRequested: always; let it propagate out of ``run``.
        """
        raise RetryRequested(countdown)

    def _failure_of(self, name: str, task_id: str) -> BaseException:
        error = self._env.error(task_id=task_id)
        if error is None:
            raise RequestError(f"parent {name!r} ({task_id}) did not fail")
        return error

    def _parent_flow_node(
        self, flow_names: str | Sequence[str], task_name: str, index: int
    ) -> tuple[list[str], str]:
        names = [flow_names] if isinstance(flow_names, str) else list(flow_names)
        if not names:
            raise NoParentNodeError("no sub-flow name given")
        node: Any = self.parent
        for name in names:
            if not isinstance(node, Mapping) or name not in node:
                raise NoParentNodeError(f"no parent sub-flow {'/'.join(names)!r}")
            node = node[name]
        ids = node.get(task_name) if isinstance(node, Mapping) else None
        if not isinstance(ids, list):
            raise NoParentNodeError(f"sub-flow {'/'.join(names)!r} has no task {task_name!r}")
        try:
            return names, str(ids[index])
        except IndexError:
            raise NoParentNodeError(
                f"sub-flow {'/'.join(names)!r} has no instance {index} of {task_name!r}"
            ) from None
