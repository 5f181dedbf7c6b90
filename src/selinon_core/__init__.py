"""selinon_core: the pure, sans-IO core of the engine.

Importing it never opens a socket, reads the clock or logs.  The names re-exported here are the
public API that Selinon users' code relies on (``from selinon import SelinonTask`` becomes
``from selinon_core import SelinonTask``), plus the dispatch API a transport drives
(``Dispatcher``, ``Step``, the events and actions, ``FlowState``), as h11 exports its connection
and events.

Names are imported on first use (a module ``__getattr__``), so that importing a leaf such as
:mod:`selinon_core.errors` does not load the configuration models.  The package is layered;
imports only point down this list:

* :mod:`selinon_core.errors`, :mod:`selinon_core.trace`, :mod:`selinon_core.ports`: shared leaves;
* :mod:`selinon_core.config`: YAML to an immutable ``System``;
* :mod:`selinon_core.dispatch`: ``Dispatcher.step`` and its events, actions, state, effects and
  wire codec;
* the task author's API at the top level: :mod:`~selinon_core.task`,
  :mod:`~selinon_core.datastorage`, :mod:`~selinon_core.caching`, :mod:`~selinon_core.predicates`,
  :mod:`~selinon_core.routines`, :mod:`~selinon_core.strategies`, and :mod:`~selinon_core.testing`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names are imported on first use (see __getattr__)
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

_LAZY: dict[str, str] = {
    "Action": "selinon_core.dispatch",
    "BackendError": "selinon_core.errors",
    "Cache": "selinon_core.caching",
    "CacheMissError": "selinon_core.caching",
    "ConditionError": "selinon_core.config.conditions",
    "ConflictError": "selinon_core.errors",
    "DataStorage": "selinon_core.datastorage",
    "DispatchError": "selinon_core.errors",
    "Dispatcher": "selinon_core.dispatch",
    "ErrorSummary": "selinon_core.dispatch",
    "Event": "selinon_core.dispatch",
    "FatalTaskError": "selinon_core.errors",
    "FinishFlow": "selinon_core.dispatch",
    "FlowRequested": "selinon_core.dispatch",
    "FlowState": "selinon_core.dispatch",
    "FlowSummary": "selinon_core.dispatch",
    "NoParentNodeError": "selinon_core.errors",
    "NodeFailed": "selinon_core.dispatch",
    "NodeSucceeded": "selinon_core.dispatch",
    "Problem": "selinon_core.errors",
    "RequestError": "selinon_core.errors",
    "ResultMissing": "selinon_core.errors",
    "RetryFlow": "selinon_core.dispatch",
    "RetryRequested": "selinon_core.errors",
    "RunTask": "selinon_core.dispatch",
    "SelectiveNoPathError": "selinon_core.errors",
    "SelectivePlan": "selinon_core.dispatch.plan",
    "SelinonError": "selinon_core.errors",
    "SelinonTask": "selinon_core.task",
    "SpecError": "selinon_core.errors",
    "StartSubflow": "selinon_core.dispatch",
    "Step": "selinon_core.dispatch",
    "SubflowFailed": "selinon_core.dispatch",
    "SubflowFinished": "selinon_core.dispatch",
    "System": "selinon_core.config.system",
    "TimerDue": "selinon_core.dispatch",
    "TransientBackendError": "selinon_core.errors",
    "UnknownFlowError": "selinon_core.errors",
    "language_schema": "selinon_core.config.language_schema",
    "load_system": "selinon_core.config.loader",
    "load_system_from_texts": "selinon_core.config.loader",
    "plan_selective_run": "selinon_core.dispatch.selective",
}
"""Public name -> the module that defines it; imported on first access (PEP 562)."""


def __getattr__(name: str) -> Any:
    """Import a public name on first use, so that ``import selinon_core.errors`` stays cheap."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the not yet imported public ones included."""
    return sorted(set(globals()) | set(__all__))
