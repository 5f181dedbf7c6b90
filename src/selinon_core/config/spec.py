"""The configuration model: frozen pydantic v2 models of every key of the YAML language.

These models are the *normalised* form of a configuration: a key that YAML allows as a string or
a list is always a tuple here, defaults are filled in, and documented spellings that Selinon's
code rejected (``storage_read_only``, ``selective_run_function.function``, ``fallback: true``,
``eager_failures: true``) are accepted.  Cross-references (unknown nodes, storages, ...) are
checked by :mod:`selinon_core.config.validate`, not here: these models only check the shape of each
entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "NODE_NAME_RE",
    "PROPAGATE_DESTINATION_FLAGS",
    "PROPAGATE_FAILURE_FLAGS",
    "PROPAGATE_FLAGS",
    "PROPAGATE_SOURCE_FLAGS",
    "AllOf",
    "AnyOf",
    "CacheSpec",
    "CallableRef",
    "Condition",
    "EdgeSpec",
    "FailureSpec",
    "FlowSpec",
    "ForeachSpec",
    "GlobalSpec",
    "Not",
    "Predicate",
    "SamplingSpec",
    "SelectiveEdgeSpec",
    "StorageSpec",
    "SystemSpec",
    "TaskSpec",
    "ThrottlingSpec",
    "TraceSinkSpec",
    "TraceStorageSpec",
]

NODE_NAME_RE = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
DEFAULT_QUEUE = "celery"
DEFAULT_MAX_FOREACH_NODES = 100_000
"""The most nodes one ``foreach`` may start (``global.max_foreach_nodes``, per flow override)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _as_tuple(value: Any) -> Any:
    """Normalise ``None`` / a string / a list of strings to a tuple of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


def _flag(value: Any) -> Any:
    """Normalise a propagate flag: ``bool`` stays, a name or a list of names becomes a tuple."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    return _as_tuple(value)


NameTuple: TypeAlias = tuple[str, ...]
Flag: TypeAlias = bool | NameTuple

PROPAGATE_DESTINATION_FLAGS: tuple[str, ...] = ("propagate_node_args", "propagate_parent")
"""Propagate flags that name sub-flows started by the flow (destinations of its edges)."""
PROPAGATE_SOURCE_FLAGS: tuple[str, ...] = ("propagate_finished", "propagate_compound_finished")
"""Propagate flags that name sub-flows that are sources of the flow's edges."""
PROPAGATE_FAILURE_FLAGS: tuple[str, ...] = (
    "propagate_failures",
    "propagate_compound_failures",
    "propagate_parent_failures",
)
"""Propagate flags that name nodes with a fallback in the flow."""
PROPAGATE_FLAGS: tuple[str, ...] = (
    *PROPAGATE_DESTINATION_FLAGS,
    *PROPAGATE_SOURCE_FLAGS,
    *PROPAGATE_FAILURE_FLAGS,
)
"""Every ``propagate_*`` key of a flow definition, in :class:`FlowSpec` field order.

Each one is a :data:`Flag`: ``true``/``false`` for all nodes, or the names it applies to.  The
three subsets above partition it by what the names must refer to; the validators, the shape
error messages and the JSON schema all derive their lists from here.
"""


# --------------------------------------------------------------------------- conditions


class Predicate(_Frozen):
    """A condition leaf: a predicate called with ``args`` plus injected ``message``/``node_args``.

    ``node`` names the source node whose result is the ``message``; it may be a path through
    sub-flows (``flow2/Task3``), which Selinon could not express.
    """

    name: str
    node: str | None = None
    args: Mapping[str, Any] = Field(default_factory=dict)

    @field_validator("args", mode="before")
    @classmethod
    def _none_args(cls, value: Any) -> Any:
        return {} if value is None else value


class AllOf(_Frozen):
    """``and``: true iff every child is true (evaluated left to right, short-circuit)."""

    and_: tuple[Condition, ...] = Field(alias="and", min_length=1)


class AnyOf(_Frozen):
    """``or``: true iff some child is true (evaluated left to right, short-circuit)."""

    or_: tuple[Condition, ...] = Field(alias="or", min_length=1)


class Not(_Frozen):
    """``not``: negation of its single child."""

    not_: Condition = Field(alias="not")


Condition: TypeAlias = Predicate | AllOf | AnyOf | Not
ALWAYS_TRUE = Predicate(name="alwaysTrue")


# --------------------------------------------------------------------------- small pieces


class CallableRef(_Frozen):
    """A user callable named by module and attribute (``import`` + ``name``)."""

    import_: str = Field(alias="import")
    name: str

    @property
    def path(self) -> str:
        """``module:attribute``."""
        return f"{self.import_}:{self.name}"


class ThrottlingSpec(_Frozen):
    """Minimal spacing between two schedules of a node, as ``datetime.timedelta`` keywords."""

    days: float = 0
    seconds: float = 0
    microseconds: float = 0
    milliseconds: float = 0
    minutes: float = 0
    hours: float = 0
    weeks: float = 0

    def total_seconds(self) -> float:
        """The spacing in seconds."""
        return (
            self.weeks * 604800
            + self.days * 86400
            + self.hours * 3600
            + self.minutes * 60
            + self.seconds
            + self.milliseconds / 1000
            + self.microseconds / 1_000_000
        )


class CacheSpec(_Frozen):
    """A cache of task results (on a storage) or node states (on a flow)."""

    name: str = "LRU"
    import_: str = Field(default="selinon.caches", alias="import")
    configuration: Mapping[str, Any] = Field(default_factory=lambda: {"max_cache_size": 0})


class SamplingSpec(_Frozen):
    """Sampling strategy: the interval of the distributed runtime's safety-net re-check."""

    name: str
    import_: str = Field(default="selinon.strategies", alias="import")
    args: Mapping[str, Any]


class SelectiveRunFunctionSpec(_Frozen):
    """Function deciding whether a task on a selective path runs or reuses an earlier result.

    Selinon's docs spell the attribute ``function``, its code ``name``; both are accepted.
    """

    name: str = "always_run"
    import_: str = Field(default="selinon.routines", alias="import")

    @model_validator(mode="before")
    @classmethod
    def _function_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "function" in data:
            data = dict(data)
            if "name" in data:
                raise ValueError("give either 'name' or 'function', not both")
            data["name"] = data.pop("function")
        return data


# --------------------------------------------------------------------------- tasks, storages


class TaskSpec(_Frozen):
    """One entry of ``tasks``."""

    name: str
    import_: str = Field(alias="import")
    classname: str = ""
    storage: str | None = None
    storage_read_only: bool = False
    storage_task_name: str | None = None
    output_schema: str | None = None
    max_retry: Annotated[int, Field(ge=0)] = 0
    retry_countdown: Annotated[float, Field(ge=0)] = 0
    queue: str = DEFAULT_QUEUE
    throttling: ThrottlingSpec | None = None
    selective_run_function: SelectiveRunFunctionSpec = SelectiveRunFunctionSpec()
    timeout: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict) and "storage_readonly" in data:
            data = dict(data)
            if "storage_read_only" in data:
                raise ValueError("give either 'storage_read_only' or 'storage_readonly', not both")
            data["storage_read_only"] = data.pop("storage_readonly")
        if isinstance(data, dict) and not data.get("classname") and data.get("name"):
            data = {**data, "classname": data["name"]}
        return data

    @property
    def effective_storage_task_name(self) -> str:
        """The task name handed to the storage adapter."""
        return self.storage_task_name or self.name

    @property
    def stores_results(self) -> bool:
        """True when results are written to the task's storage."""
        return self.storage is not None and not self.storage_read_only


class StorageSpec(_Frozen):
    """One entry of ``storages``."""

    name: str
    import_: str = Field(alias="import")
    classname: str = ""
    configuration: Any
    cache: CacheSpec = CacheSpec()

    @model_validator(mode="before")
    @classmethod
    def _classname(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("classname") and data.get("name"):
            data = {**data, "classname": data["name"]}
        return data


# --------------------------------------------------------------------------- flows


class ForeachSpec(_Frozen):
    """Fan-out: start the edge's destinations once per item the function returns."""

    function: str
    import_: str = Field(alias="import")
    propagate_result: bool = False


class SelectiveEdgeSpec(_Frozen):
    """A selective run of the (single, sub-flow) destination of an edge."""

    tasks: NameTuple = Field(min_length=1)
    follow_subflows: bool = False
    run_subsequent: bool | NameTuple = False

    _norm_tasks = field_validator("tasks", mode="before")(_as_tuple)
    _norm_sub = field_validator("run_subsequent", mode="before")(_flag)


class EdgeSpec(_Frozen):
    """One entry of a flow's ``edges``; ``from_`` empty means a starting edge."""

    from_: NameTuple = Field(alias="from")
    to: NameTuple = Field(min_length=1)
    condition: Condition = ALWAYS_TRUE
    foreach: ForeachSpec | None = None
    selective: SelectiveEdgeSpec | None = None

    _norm = field_validator("to", mode="before")(_as_tuple)

    @field_validator("from_", mode="before")
    @classmethod
    def _norm_from(cls, value: Any) -> Any:
        """An empty string (common in flows generated from Python dicts) is no source at all."""
        return () if value == "" else _as_tuple(value)

    @field_validator("condition", mode="before")
    @classmethod
    def _default_condition(cls, value: Any) -> Any:
        return ALWAYS_TRUE if value is None else value

    @property
    def is_starting(self) -> bool:
        """True for an edge with no source nodes."""
        return not self.from_


class FailureSpec(_Frozen):
    """One entry of a flow's ``failures``: what to start when ``nodes`` all failed."""

    nodes: NameTuple = Field(min_length=1)
    fallback: Literal[True] | NameTuple
    condition: Condition = ALWAYS_TRUE
    propagate_failure: bool = False

    _norm_nodes = field_validator("nodes", mode="before")(_as_tuple)

    @field_validator("fallback", mode="before")
    @classmethod
    def _norm_fallback(cls, value: Any) -> Any:
        return value if value is True else _as_tuple(value)

    @field_validator("condition", mode="before")
    @classmethod
    def _default_condition(cls, value: Any) -> Any:
        return ALWAYS_TRUE if value is None else value


class FlowSpec(_Frozen):
    """One entry of ``flow-definitions``."""

    name: str
    edges: tuple[EdgeSpec, ...] = Field(min_length=1)
    failures: tuple[FailureSpec, ...] = ()
    nowait: NameTuple = ()
    eager_failures: Literal[True] | NameTuple = ()
    node_args_from_first: bool = False
    propagate_node_args: Flag = False
    propagate_parent: Flag = False
    propagate_finished: Flag = False
    propagate_compound_finished: Flag = False
    propagate_failures: Flag = False
    propagate_compound_failures: Flag = False
    propagate_parent_failures: Flag = False
    max_retry: Annotated[int, Field(ge=0)] = 0
    retry_countdown: Annotated[float, Field(ge=0)] = 0
    queue: str = DEFAULT_QUEUE
    throttling: ThrottlingSpec | None = None
    sampling: SamplingSpec | None = None
    cache: CacheSpec = CacheSpec()
    max_foreach_nodes: Annotated[int, Field(ge=1)] | None = None

    _norm_nowait = field_validator("nowait", mode="before")(_as_tuple)
    _norm_flags = field_validator(*PROPAGATE_FLAGS, mode="before")(_flag)

    @field_validator("eager_failures", mode="before")
    @classmethod
    def _norm_eager(cls, value: Any) -> Any:
        return value if value is True else _as_tuple(value)

    @field_validator("failures", mode="before")
    @classmethod
    def _none_failures(cls, value: Any) -> Any:
        return () if value is None else value

    def covers(self, flag: str, node: str) -> bool:
        """Whether the propagate flag named ``flag`` applies to ``node``."""
        value: Flag = getattr(self, flag)
        return value if isinstance(value, bool) else node in value

    def is_eager(self, node: str) -> bool:
        """Whether a failure of ``node`` fails the flow at once."""
        return self.eager_failures is True or node in self.eager_failures


# --------------------------------------------------------------------------- global


class TraceStorageSpec(_Frozen):
    """Trace into a storage: ``<storage>.<method>(event, details)``."""

    name: str
    method: str = "trace"


class SentrySpec(_Frozen):
    """Sentry integration."""

    dsn: str


class TraceSinkSpec(_Frozen):
    """One entry of ``global.trace``; several sinks may be enabled in one entry."""

    logging: bool = False
    json_: bool = Field(default=False, alias="json")
    function: CallableRef | None = None
    storage: TraceStorageSpec | None = None
    sentry: SentrySpec | None = None
    opentelemetry: bool = False


class GlobalSpec(_Frozen):
    """The ``global`` section."""

    predicates_module: str = "selinon.predicates"
    default_task_queue: str = DEFAULT_QUEUE
    default_dispatcher_queue: str = DEFAULT_QUEUE
    trace: tuple[TraceSinkSpec, ...] = ()
    migration_dir: str | None = None
    max_foreach_nodes: Annotated[int, Field(ge=1)] = DEFAULT_MAX_FOREACH_NODES

    @field_validator("trace", mode="before")
    @classmethod
    def _norm_trace(cls, value: Any) -> Any:
        if value is False:
            return ()
        if isinstance(value, dict):
            return (value,)
        return value


# --------------------------------------------------------------------------- the system


class SystemSpec(_Frozen):
    """A whole configuration: tasks, storages, flows (by name) and the global section."""

    tasks: tuple[TaskSpec, ...]
    storages: tuple[StorageSpec, ...] = ()
    flows: Mapping[str, FlowSpec]
    global_: GlobalSpec = Field(default=GlobalSpec(), alias="global")

    @cached_property
    def _task_index(self) -> dict[str, TaskSpec]:
        """Tasks by name, built on first use (a plain dict: no pydantic attribute look-up)."""
        return {t.name: t for t in self.tasks}

    def task(self, name: str) -> TaskSpec:
        """The task named ``name`` (``KeyError`` if there is none)."""
        return self._task_index[name]

    def storage(self, name: str) -> StorageSpec:
        """The storage named ``name`` (``KeyError`` if there is none)."""
        for storage in self.storages:
            if storage.name == name:
                return storage
        raise KeyError(name)

    def is_flow(self, name: str) -> bool:
        """True when ``name`` is a flow (else it is a task)."""
        return name in self.flows

    def is_task(self, name: str) -> bool:
        """True when ``name`` is a task."""
        return name in self._task_index


for _model in (AllOf, AnyOf, Not, EdgeSpec, FailureSpec):
    _model.model_rebuild()
