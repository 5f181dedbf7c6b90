"""Running one task: resolve its class, run it, validate and store its result.

The worker decides nothing about the flow: it reports an :class:`Outcome` (succeeded, retry
after a countdown, or failed) and the engine turns it into an event for the dispatcher.

Timeouts: a task with ``timeout`` runs in a helper thread that the worker waits for.  Threads
cannot be killed, so a task that overruns keeps running in the background as a daemon thread;
its result is discarded (never stored, never reported) and the node fails with ``TASK_TIMEOUT``.
An ``async def run`` task is cancelled at its timeout instead.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import CoroutineType
from typing import Any, Literal

import fastjsonschema

from selinon_backends.ports import ResultStore
from selinon_backends.selinon_alias import ensure_selinon_alias
from selinon_core.config.spec import TaskSpec
from selinon_core.config.system import System
from selinon_core.dispatch.actions import RunTask
from selinon_core.dispatch.retry import TaskFailureKind, decide_task_retry
from selinon_core.errors import FatalTaskError, RetryRequested, SpecError, describe_error
from selinon_core.task import SelinonTask, TaskEnvironment
from selinon_core.trace import TraceEvent, TraceName

__all__ = ["Outcome", "TaskTimeout", "Worker"]

_PLAIN = (type(None), bool, int, float, str)
_NO_TRACE: list[TraceEvent] = []
"""The trace list of every outcome while tracing is off (never appended to)."""
_PLAIN_DEPTH = 4


class TaskTimeout(Exception):
    """A task ran past its ``timeout``."""


class ResultNotJSON(Exception):
    """A task returned a value that cannot be serialised to JSON."""


@dataclass(slots=True)
class Outcome:
    """What running a task once came to.

    Attributes:
        kind: ``succeeded``, ``retry`` or ``failed``.
        result: the task's return value (``succeeded`` only).
        countdown: seconds before the retry (``retry`` only).
        counted: whether the retry counts against ``max_retry`` (not for ``self.retry()``).
        error: the exception (``retry`` and ``failed``).
        trace: trace events produced, in order (empty when tracing is off).
        stored: whether the result was written to the task's storage (``succeeded`` only).
    """

    kind: Literal["succeeded", "retry", "failed"]
    result: Any = None
    countdown: float = 0.0
    counted: bool = True
    error: BaseException | None = None
    trace: list[TraceEvent] = field(default_factory=list)
    stored: bool = False


class Worker:
    """Executes ``RunTask`` actions for one runtime.

    Args:
        system: the loaded configuration.
        results: where results are stored.
        environment: what tasks get as their runtime environment.
        now: the clock's ``now`` (timestamps of trace events).
        tracing: whether to produce trace events at all (the ``tracing`` attribute; the
            engine switches it per run).
    """

    def __init__(
        self,
        system: System,
        results: ResultStore,
        environment: TaskEnvironment,
        now: Callable[[], float],
        *,
        tracing: bool,
    ) -> None:
        ensure_selinon_alias()  # task modules written for Selinon import ``selinon``
        self._system = system
        self._results = results
        make_current = getattr(results, "make_current", None)
        if make_current is not None:  # class-level ``StoragePool`` calls of task code
            make_current()
        self._env = environment
        self._now = now
        self.tracing = tracing
        self._schemas: dict[str, Callable[[Any], Any]] = {}
        self._lock = threading.Lock()
        self._specs: dict[str, TaskSpec] = {}
        self._stores: dict[str, bool] = {}
        self._classes: dict[str, type[SelinonTask]] = {}

    def spec(self, task_name: str) -> TaskSpec:
        """The configuration of task ``task_name`` (looked up once)."""
        spec = self._specs.get(task_name)
        if spec is None:
            spec = self._specs[task_name] = self._system.spec.task(task_name)
        return spec

    def stores_results(self, task_name: str) -> bool:
        """Whether task ``task_name`` writes its results to a storage (looked up once)."""
        stores = self._stores.get(task_name)
        if stores is None:
            stores = self._stores[task_name] = self.spec(task_name).stores_results
        return stores

    def execute(self, action: RunTask, attempt: int) -> Outcome:
        """Run the task of ``action``; ``attempt`` counts earlier failed attempts (retries)."""
        spec = self._specs.get(action.task_name) or self.spec(action.task_name)
        trace: list[TraceEvent] = [] if self.tracing else _NO_TRACE  # _trace() appends if tracing
        if self.tracing:
            self._trace(trace, TraceName.TASK_START, action, retried_count=attempt)
        try:
            result = self._run(spec, action)
            if type(result) not in _PLAIN or spec.output_schema is not None:
                self._validate(spec, result)
            stored = self._store(spec, action, result, trace)
        except RetryRequested as exc:
            self._trace(trace, TraceName.TASK_RETRY, action, user_retry=True, retried_count=attempt)
            return Outcome("retry", countdown=exc.countdown, counted=False, error=exc, trace=trace)
        except Exception as exc:
            return self._failed(spec, action, attempt, exc, trace)
        if self.tracing:
            self._trace(trace, TraceName.TASK_END, action)
        return Outcome("succeeded", result, 0.0, True, None, trace, stored)  # positional: hot

    def _task_class(self, spec: TaskSpec) -> type[SelinonTask]:
        cls = self._classes.get(spec.name)
        if cls is not None:
            return cls
        try:
            found = self._system.resolve(spec.import_, spec.classname)
        except SpecError as exc:
            raise FatalTaskError(f"cannot import task class: {exc}") from exc
        if not (isinstance(found, type) and issubclass(found, SelinonTask)):
            raise FatalTaskError(f"{spec.import_}.{spec.classname} is not a SelinonTask subclass")
        self._classes[spec.name] = found
        return found

    def _run(self, spec: TaskSpec, action: RunTask) -> Any:
        cls = self._classes.get(spec.name) or self._task_class(spec)
        task = cls(
            action.flow_name,
            action.task_name,
            action.parent,
            action.task_id,
            action.flow_id,
            environment=self._env,
        )
        if spec.timeout is not None:
            return _run_with_timeout(task, action.node_args, spec.timeout)
        result = task.run(action.node_args)
        if isinstance(result, CoroutineType):  # inspect.iscoroutine(), without the call
            result = asyncio.run(result)
        return result

    def _validate(self, spec: TaskSpec, result: Any) -> None:
        if not _plain_json(result):
            try:
                json.dumps(result)
            except (TypeError, ValueError) as exc:
                raise ResultNotJSON(
                    f"task {spec.name!r} returned a value that is not JSON-serialisable: {exc}"
                ) from None
        if spec.output_schema is not None:
            self._schema(spec.output_schema)(result)

    def _schema(self, path: str) -> Callable[[Any], Any]:
        validate = self._schemas.get(path)
        if validate is None:
            with self._lock, open(self._schema_path(path), encoding="utf-8") as handle:
                validate = fastjsonschema.compile(json.load(handle))
                self._schemas[path] = validate
        return validate

    def _schema_path(self, path: str) -> Path:
        """``path`` as given, else relative to the directories of the configuration files."""
        given = Path(path)
        if given.is_absolute() or given.exists():
            return given
        for source in self._system.sources:
            candidate = Path(source).parent / given
            if candidate.exists():
                return candidate
        raise FatalTaskError(
            f"output schema {path!r} not found (relative paths are tried from the current "
            "directory, then from the directory of each configuration file)"
        )

    def _store(self, spec: TaskSpec, action: RunTask, result: Any, trace: list[TraceEvent]) -> bool:
        """Write ``result`` to the task's storage; whether it has one (and so was written)."""
        if self._stores.get(spec.name) or self.stores_results(spec.name):
            self._results.store(
                action.node_args, action.flow_name, action.task_name, action.task_id, result
            )
            return True
        if result is not None:
            self._trace(trace, TraceName.TASK_DISCARD_RESULT, action)
        return False

    def _failed(
        self, spec: TaskSpec, action: RunTask, attempt: int, exc: Exception, trace: list[TraceEvent]
    ) -> Outcome:
        what = describe_error(exc)
        if isinstance(exc, TaskTimeout):
            self._trace(trace, TraceName.TASK_TIMEOUT, action, timeout=spec.timeout)
        failure: TaskFailureKind = "error"
        if isinstance(exc, FatalTaskError):
            failure = "fatal"
        elif isinstance(exc, TaskTimeout):
            failure = "timeout"
        decision = decide_task_retry(
            max_retry=spec.max_retry,
            retry_countdown=spec.retry_countdown,
            retried_count=attempt,
            failure=failure,
        )
        countdown = decision.countdown if decision.retry else None
        if countdown is not None:
            self._trace(trace, TraceName.TASK_RETRY, action, what=what, retried_count=attempt + 1)
            return Outcome("retry", countdown=countdown, error=exc, trace=trace)
        self._trace(trace, TraceName.TASK_FAILURE, action, what=what, retried_count=attempt)
        if spec.storage is not None:
            self._store_error(action, exc)
        return Outcome("failed", error=exc, trace=trace)

    def _store_error(self, action: RunTask, exc: Exception) -> None:
        self._results.store_error(
            action.node_args,
            action.flow_name,
            action.task_name,
            action.task_id,
            (type(exc), exc, exc.__traceback__),
        )

    def _trace(
        self, trace: list[TraceEvent], name: TraceName, action: RunTask, **extra: Any
    ) -> None:
        if self.tracing:
            details = {
                "flow_name": action.flow_name,
                "dispatcher_id": action.flow_id,
                "task_name": action.task_name,
                "task_id": action.task_id,
                **extra,
            }
            trace.append(TraceEvent(name, self._now(), details))


def _plain_json(value: Any, depth: int = 0) -> bool:
    """A quick sufficient check that ``value`` serialises to JSON (``json.dumps`` decides else).

    True for ``None``/bool/int/float/str, and lists or str-keyed dicts of those, nested a few
    levels; anything else (tuples, subclasses, other keys, deep nesting) returns ``False`` and
    is checked by ``json.dumps``.
    """
    kind = type(value)
    if kind in _PLAIN:
        return True
    if depth >= _PLAIN_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (
                type(item) not in _PLAIN and not _plain_json(item, depth + 1)
            ):
                return False
        return True
    if kind is list:
        for item in value:
            if type(item) not in _PLAIN and not _plain_json(item, depth + 1):
                return False
        return True
    return False


def _run_with_timeout(task: SelinonTask, node_args: Any, timeout: float) -> Any:
    """Run ``task`` in a daemon thread and give up waiting after ``timeout`` seconds."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            value = task.run(node_args)
            if inspect.iscoroutine(value):
                value = asyncio.run(_bounded(value, timeout))
            box["value"] = value
        except BaseException:
            box["error"] = sys.exc_info()[1]

    thread = threading.Thread(target=target, name=f"task-{task.task_id}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TaskTimeout(f"task {task.task_name!r} ran past its timeout of {timeout}s")
    if "error" in box:
        error = box["error"]
        if isinstance(error, asyncio.TimeoutError):
            raise TaskTimeout(f"task {task.task_name!r} ran past its timeout of {timeout}s")
        raise error
    return box.get("value")


async def _bounded(coro: Any, timeout: float) -> Any:
    return await asyncio.wait_for(coro, timeout)
