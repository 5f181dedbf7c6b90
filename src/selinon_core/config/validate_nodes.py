"""Rules about the system's entities: names, tasks, storages, the flow listing and ``global``."""

from __future__ import annotations

from dataclasses import dataclass, field

from selinon_core.config.spec import (
    NODE_NAME_RE,
    FlowSpec,
    GlobalSpec,
    StorageSpec,
    TaskSpec,
    ThrottlingSpec,
)
from selinon_core.config.validate_common import Reporter, did_you_mean
from selinon_core.config.yamlsource import Path_

__all__ = ["Pieces", "check_entities", "warn_unused"]


@dataclass
class Pieces:
    """The parts of a configuration that passed shape validation, with their list positions.

    Attributes:
        tasks: ``(index in tasks, spec)``.
        storages: ``(index in storages, spec)``.
        flows: ``(index in flow-definitions, spec)``.
        listed: ``(index in flows, name)``.
        global_: the global section (defaults when it was invalid).
        broken: names of entries that failed shape validation, by section (``tasks``,
            ``storages``, ``flow-definitions``); references to them are not reported again.
    """

    tasks: list[tuple[int, TaskSpec]] = field(default_factory=list)
    storages: list[tuple[int, StorageSpec]] = field(default_factory=list)
    flows: list[tuple[int, FlowSpec]] = field(default_factory=list)
    listed: list[tuple[int, str]] = field(default_factory=list)
    global_: GlobalSpec = field(default_factory=GlobalSpec)
    broken: dict[str, set[str]] = field(default_factory=dict)

    def broken_names(self, section: str) -> set[str]:
        """Names of the entries of ``section`` that failed shape validation."""
        return self.broken.get(section, set())


def check_entities(pieces: Pieces, rep: Reporter) -> None:
    """Check names, clashes, storage references, throttling and the flow listing."""
    _check_node_names(pieces, rep)
    _check_storages(pieces, rep)
    _check_tasks(pieces, rep)
    _check_listing(pieces, rep)
    for i, flow in pieces.flows:
        path: Path_ = ("flow-definitions", i)
        _check_retry(flow.max_retry, flow.retry_countdown, path, rep)
        _check_throttling(flow.throttling, (*path, "throttling"), rep)
    for k, sink in enumerate(pieces.global_.trace):
        names = [s.name for _, s in pieces.storages]
        known = {*names, *pieces.broken_names("storages")}
        if sink.storage is not None and sink.storage.name not in known:
            rep.error(
                ("global", "trace", k, "storage", "name"),
                f"unknown storage {sink.storage.name!r}",
                did_you_mean(sink.storage.name, names),
            )


def _check_name(name: str, kind: str, path: Path_, rep: Reporter) -> None:
    if not NODE_NAME_RE.match(name):
        rep.error(
            path,
            f"invalid {kind} name {name!r}" if kind == "flow" else "invalid name",
            "use letters, digits and '_', not starting with a digit",
        )


def _check_node_names(pieces: Pieces, rep: Reporter) -> None:
    seen: dict[str, str] = {}
    for i, task in pieces.tasks:
        path: Path_ = ("tasks", i, "name")
        _check_name(task.name, "task", path, rep)
        if task.name in seen:
            rep.error(path, "another task has the same name")
        seen[task.name] = "task"
    listed: set[str] = set()
    for k, name in pieces.listed:
        path = ("flows", k)
        _check_name(name, "flow", path, rep)
        if name in listed:
            rep.error(path, f"flow {name!r} is listed twice")
        elif seen.get(name) == "task":
            rep.error(path, f"flow {name!r} has the same name as a task")
        listed.add(name)
    for i, flow in pieces.flows:
        if flow.name not in listed:
            _check_name(flow.name, "flow", ("flow-definitions", i, "name"), rep)


def _check_storages(pieces: Pieces, rep: Reporter) -> None:
    tasks = {task.name for _, task in pieces.tasks}
    seen: set[str] = set()
    for i, storage in pieces.storages:
        path: Path_ = ("storages", i, "name")
        if storage.name in seen:
            rep.error(path, "another storage has the same name")
        elif storage.name in tasks:
            rep.error(path, "a task has the same name")
        seen.add(storage.name)
        if storage.configuration is None or storage.configuration in ({}, [], ""):
            rep.error(
                ("storages", i, "configuration"),
                "'configuration' must not be empty",
                "give the keyword arguments of the storage adapter",
            )


def _check_tasks(pieces: Pieces, rep: Reporter) -> None:
    storages = [s.name for _, s in pieces.storages]
    broken = pieces.broken_names("storages")
    for i, task in pieces.tasks:
        path: Path_ = ("tasks", i)
        if task.storage is not None and task.storage not in {*storages, *broken}:
            rep.error(
                (*path, "storage"),
                f"unknown storage {task.storage!r}",
                did_you_mean(task.storage, storages) or "define it under 'storages'",
            )
        if task.storage_task_name is not None and task.storage is None:
            rep.error(
                (*path, "storage_task_name"),
                "'storage_task_name' needs a 'storage'",
                "add 'storage:' or remove 'storage_task_name'",
            )
        _check_retry(task.max_retry, task.retry_countdown, path, rep)
        _check_throttling(task.throttling, (*path, "throttling"), rep)


def _check_retry(max_retry: int, countdown: float, path: Path_, rep: Reporter) -> None:
    if countdown and not max_retry:
        rep.warn(
            (*path, "retry_countdown"),
            "'retry_countdown' has no effect while 'max_retry' is 0",
        )


def _check_throttling(throttling: ThrottlingSpec | None, path: Path_, rep: Reporter) -> None:
    if throttling is None:
        return
    for key, value in throttling.model_dump().items():
        if value < 0:
            rep.error((*path, key), f"throttling {key!r} must not be negative, got {value!r}")


def _check_listing(pieces: Pieces, rep: Reporter) -> None:
    listed = {name for _, name in pieces.listed}
    defined: dict[str, int] = {}
    for i, flow in pieces.flows:
        path: Path_ = ("flow-definitions", i, "name")
        if flow.name in defined:
            rep.error(path, "defined twice (each flow has one definition)")
            continue
        defined[flow.name] = i
        if flow.name not in listed:
            rep.error(
                path,
                "defined but not listed in 'flows'",
                did_you_mean(flow.name, listed) or "add it to the 'flows' list of the nodes file",
            )
    broken = pieces.broken_names("flow-definitions")
    for k, name in pieces.listed:
        if name not in defined and name not in broken:
            rep.error(
                ("flows", k),
                f"flow {name!r} is listed but has no definition",
                did_you_mean(name, defined) or "add it under 'flow-definitions'",
            )


def warn_unused(pieces: Pieces, flows: dict[str, FlowSpec], rep: Reporter) -> None:
    """Warn about tasks no flow uses and storages no task or trace sink uses."""
    used: set[str] = set()
    for flow in flows.values():
        for edge in flow.edges:
            used.update(edge.from_, edge.to)
        for failure in flow.failures:
            if failure.fallback is not True:
                used.update(failure.fallback)
    for i, task in pieces.tasks:
        if task.name not in used:
            rep.warn(("tasks", i, "name"), "task is not used in any flow")
    storages_used = {task.storage for _, task in pieces.tasks}
    storages_used.update(s.storage.name for s in pieces.global_.trace if s.storage)
    for i, storage in pieces.storages:
        if storage.name not in storages_used:
            rep.warn(("storages", i, "name"), "storage is not used by any task")
