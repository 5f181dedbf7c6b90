"""The exception tree of the engine.

::

    SelinonError
    ├── SpecError                  the configuration is invalid; carries every Problem found
    ├── DispatchError
    │   ├── UnknownFlowError       a flow name that the System does not define
    │   ├── UnknownNodeError       a node name that the flow does not define
    │   ├── InvalidTransition      an event that cannot apply to the state (state left untouched)
    │   └── SelectiveNoPathError   a selective run whose tasks cannot be reached
    ├── TaskError
    │   ├── FatalTaskError         raised by a task: fail now, never retry
    │   ├── RetryRequested         raised by ``SelinonTask.retry()``: retry, not counted
    │   └── ParentTaskError        a parent task's failure, as a fallback reads it back
    ├── NoParentNodeError          a task asked for a parent result that does not exist
    ├── RequestError               a run was requested with inconsistent arguments
    ├── WireError                  a message or stored state that cannot be decoded
    └── BackendError               raised by the shell only
        ├── TransientBackendError  try again later (connection lost, timeout)
        ├── ConflictError          optimistic concurrency check failed
        └── ResultMissing          no stored result for the id asked for

The core raises only ``SpecError`` (bad configuration) and ``DispatchError`` (impossible
requests).  A failing task is an event, never an exception that crosses the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BackendError",
    "ConflictError",
    "DispatchError",
    "FatalTaskError",
    "InvalidTransition",
    "NoParentNodeError",
    "ParentTaskError",
    "Problem",
    "RequestError",
    "ResultMissing",
    "RetryRequested",
    "SelectiveNoPathError",
    "SelinonError",
    "SpecError",
    "TaskError",
    "TransientBackendError",
    "UnknownFlowError",
    "UnknownNodeError",
    "WireError",
    "describe_error",
]


class SelinonError(Exception):
    """Base class of every error raised by the engine."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or suspicious) in a configuration, with its location.

    Attributes:
        message: what is wrong, in one sentence.
        file: the file it was found in, or ``None`` for configurations built from dicts.
        line: 1-based line number, or ``None`` when unknown.
        column: 1-based column number, or ``None`` when unknown.
        hint: what to do about it (e.g. "did you mean 'Task2'?"), or ``None``.
    """

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None

    def location(self) -> str:
        """Render ``file:line:column`` with whatever parts are known."""
        parts = [self.file or "<config>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        text = f"{self.location()}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class SpecError(SelinonError):
    """The configuration is invalid.  ``problems`` lists every error found, in file order."""

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class DispatchError(SelinonError):
    """A request the dispatcher cannot honour."""


class UnknownFlowError(DispatchError):
    """The flow name is not defined in the System."""


class UnknownNodeError(DispatchError):
    """The node name is not defined in the flow."""


class InvalidTransition(DispatchError):
    """An event cannot apply to the flow state; the state is left untouched."""


class SelectiveNoPathError(DispatchError):
    """A selective run names a task that no path of the flow reaches."""


class TaskError(SelinonError):
    """Base class of errors a task raises on purpose."""


class FatalTaskError(TaskError):
    """Raise from a task to fail it at once, without the retries ``max_retry`` allows."""


class RetryRequested(TaskError):
    """Raised by ``SelinonTask.retry()``: run the task again after ``countdown`` seconds."""

    def __init__(self, countdown: float = 0) -> None:
        self.countdown = float(countdown)
        super().__init__(f"task asked to be retried in {self.countdown}s")


class NoParentNodeError(SelinonError):
    """A task asked for the result or error of a parent that it does not have."""


class RequestError(SelinonError):
    """A run was requested with arguments that do not fit together."""


class BackendError(SelinonError):
    """An error from a storage, state store, cache or transport (raised by the shell)."""


class TransientBackendError(BackendError):
    """The backend is unavailable for now; the same call may succeed later."""


class ConflictError(BackendError):
    """An optimistic concurrency check failed; reload and try again."""


class ResultMissing(BackendError):
    """No stored result exists for the requested task id."""


class ParentTaskError(TaskError):
    """How a parent task's failure of a non-built-in exception type reads back in a fallback.

    Exception objects do not travel between processes; the type name, message and traceback
    text do.  ``str(error)`` is ``"Type: message"``.

    Attributes:
        type_name: the name of the exception type the task raised.
        message: its message.
        traceback: the formatted traceback, when known.
    """

    def __init__(self, type_name: str, message: str, traceback: str | None = None) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.traceback = traceback


class WireError(SelinonError):
    """A message, event, action or stored state could not be decoded.

    Raised by :mod:`selinon_core.dispatch.wire` for malformed JSON, a missing or mistyped field,
    an unknown kind, or a format version this code does not read.
    """


def describe_error(exc: BaseException) -> str:
    """``"Type: message"``: the one-line form of an exception used in traces and reports."""
    return f"{type(exc).__name__}: {exc}"
