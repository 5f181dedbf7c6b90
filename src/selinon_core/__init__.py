"""selinon_core: the pure, sans-IO core of the engine.

Importing it never opens a socket, reads the clock or logs.  The names re-exported here are the
public API that Selinon users' code relies on (``from selinon import SelinonTask`` becomes
``from selinon_core import SelinonTask``).
"""

from selinon_core.caching import Cache, CacheMissError
from selinon_core.conditions import ConditionError
from selinon_core.datastorage import DataStorage
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
from selinon_core.language_schema import language_schema
from selinon_core.loader import load_system, load_system_from_texts
from selinon_core.selective import SelectivePlan, plan_selective_run
from selinon_core.system import System
from selinon_core.task import SelinonTask

__all__ = [
    "BackendError",
    "Cache",
    "CacheMissError",
    "ConditionError",
    "ConflictError",
    "DataStorage",
    "DispatchError",
    "FatalTaskError",
    "NoParentNodeError",
    "Problem",
    "RequestError",
    "ResultMissing",
    "RetryRequested",
    "SelectiveNoPathError",
    "SelectivePlan",
    "SelinonError",
    "SelinonTask",
    "SpecError",
    "System",
    "TransientBackendError",
    "UnknownFlowError",
    "language_schema",
    "load_system",
    "load_system_from_texts",
    "plan_selective_run",
]
