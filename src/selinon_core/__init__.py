"""selinon_core: the pure, sans-IO core of the engine.

Importing it never opens a socket, reads the clock or logs.  The names re-exported here are the
public API that Selinon users' code relies on (``from selinon import SelinonTask`` becomes
``from selinon_core import SelinonTask``), plus the dispatch API a transport drives
(``Dispatcher``, ``Step``, the events and actions, ``FlowState``), as h11 exports its connection
and events.

The package is layered; imports only point down this list:

* :mod:`selinon_core.errors`, :mod:`selinon_core.trace`, :mod:`selinon_core.ports`: shared leaves;
* :mod:`selinon_core.config`: YAML to an immutable ``System``;
* :mod:`selinon_core.dispatch`: ``Dispatcher.step`` and its events, actions, state, effects and
  wire codec;
* the task author's API at the top level: :mod:`~selinon_core.task`,
  :mod:`~selinon_core.datastorage`, :mod:`~selinon_core.caching`, :mod:`~selinon_core.predicates`,
  :mod:`~selinon_core.routines`, :mod:`~selinon_core.strategies`, and :mod:`~selinon_core.testing`.
"""

from selinon_core.caching import Cache, CacheMissError
from selinon_core.config.conditions import ConditionError
from selinon_core.config.language_schema import language_schema
from selinon_core.config.loader import load_system, load_system_from_texts
from selinon_core.config.system import System
from selinon_core.datastorage import DataStorage
from selinon_core.dispatch import (
    Action,
    Dispatcher,
    ErrorSummary,
    Event,
    FinishFlow,
    FlowRequested,
    FlowState,
    FlowSummary,
    NodeFailed,
    NodeSucceeded,
    RetryFlow,
    RunTask,
    StartSubflow,
    Step,
    SubflowFailed,
    SubflowFinished,
    TimerDue,
)
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.selective import plan_selective_run
from selinon_core.errors import (
    BackendError,
    ConflictError,
    DispatchError,
    FatalTaskError,
    NoParentNodeError,
    Problem,
    RequestError,
    ResultMissing,
    RetryRequested,
    SelectiveNoPathError,
    SelinonError,
    SpecError,
    TransientBackendError,
    UnknownFlowError,
)
from selinon_core.task import SelinonTask

__all__ = [
    "Action",
    "BackendError",
    "Cache",
    "CacheMissError",
    "ConditionError",
    "ConflictError",
    "DataStorage",
    "DispatchError",
    "Dispatcher",
    "ErrorSummary",
    "Event",
    "FatalTaskError",
    "FinishFlow",
    "FlowRequested",
    "FlowState",
    "FlowSummary",
    "NoParentNodeError",
    "NodeFailed",
    "NodeSucceeded",
    "Problem",
    "RequestError",
    "ResultMissing",
    "RetryFlow",
    "RetryRequested",
    "RunTask",
    "SelectiveNoPathError",
    "SelectivePlan",
    "SelinonError",
    "SelinonTask",
    "SpecError",
    "StartSubflow",
    "Step",
    "SubflowFailed",
    "SubflowFinished",
    "System",
    "TimerDue",
    "TransientBackendError",
    "UnknownFlowError",
    "language_schema",
    "load_system",
    "load_system_from_texts",
    "plan_selective_run",
]
