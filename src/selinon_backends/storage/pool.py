"""The storage pool: one connected adapter per storage per process, plus result caches.

Tasks store their results through :meth:`StoragePool.store`; the dispatcher reads results for
conditions and ``foreach`` through :meth:`StoragePool.get` (the
:class:`~selinon_core.ports.ResultsPort`).  Each read goes through the storage's result cache
(``cache:`` in the storage's YAML entry):

``TASK_RESULT_CACHE_GET`` → ``_HIT`` (done) or ``_MISS`` → ``STORAGE_RETRIEVE`` →
``STORAGE_RETRIEVED`` → ``TASK_RESULT_CACHE_ADD``.

A failing cache is traced (``TASK_RESULT_CACHE_ISSUE``) and bypassed, never fatal.  A failing
storage is traced (``STORAGE_ISSUE``); reads then raise ``ResultMissing`` (nothing stored) or
``TransientBackendError`` (anything else: the dispatcher re-delivers the event later, as
Selinon retried its dispatcher on storage errors).  Writes re-raise the adapter's error, which
fails the task so that it is retried per its ``max_retry``.  A storage whose client library is
not installed is a configuration error, not a failing storage: its ``MissingExtraError`` (a
``SpecError``) is raised as it is, never retried.

Adapters whose class sets ``thread_safe = True`` are called concurrently; others are called
under one lock per storage, as Selinon did.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import replace
from types import MethodType
from typing import Any

from selinon_backends.caches import build_cache
from selinon_backends.http_probe import http_status
from selinon_core.caching import Cache, CacheMissError
from selinon_core.config.system import System
from selinon_core.datastorage import ExcInfo
from selinon_core.errors import (
    NoParentNodeError,
    ResultMissing,
    SelinonError,
    SpecError,
    TransientBackendError,
    describe_error,
)
from selinon_core.predicates import HttpProbe
from selinon_core.trace import TraceEvent, TraceName

__all__ = ["CLASS_LEVEL_METHODS", "StoragePool", "StoragePoolView", "current_pool"]

Trace = Callable[[TraceEvent], None]


class _Slot:
    """One configured storage: its adapter, cache and (for non-thread-safe adapters) lock."""

    def __init__(self, adapter: Any, cache: Cache) -> None:
        self.adapter = adapter
        self.cache = cache
        self.connect_lock = threading.Lock()
        self.thread_safe = bool(getattr(adapter, "thread_safe", False))
        self.call_lock: Any = nullcontext() if self.thread_safe else threading.RLock()
        # A cache that keeps nothing only matters for its trace events.
        self.cache_keeps_nothing = getattr(cache, "max_cache_size", None) == 0


class StoragePool:
    """Storage adapters of a System, created and connected lazily, shared by all threads.

    Args:
        system: the loaded configuration (storages, and which task stores where).
        trace: receives the ``STORAGE_*`` and ``TASK_RESULT_CACHE_*`` trace events.
        clock: epoch seconds for trace event times.
        http_probe: the HTTP port conditions may use (``httpStatus``); the dispatcher reads it
            from here as :attr:`http_probe`.  ``None`` offers none.
    """

    def __init__(
        self,
        system: System,
        *,
        trace: Trace | None = None,
        clock: Callable[[], float] = time.time,
        http_probe: HttpProbe | None = http_status,
    ) -> None:
        self.system = system
        self.http_probe = http_probe
        self._trace = trace
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._routes: dict[str, tuple[str, str, bool]] = {}
        self._lean: dict[str, tuple[_Slot, str, str]] = {}  # see _lean_slot
        self._lock = threading.Lock()
        self.make_current()

    def make_current(self) -> None:
        """Answer the class-level calls of task code (``StoragePool.retrieve(...)``) from now on.

        A pool makes itself current when it is created; a runtime whose worker runs tasks
        calls this again when it starts, so the latest runtime of a process wins.
        """
        _CURRENT[0] = self

    # ------------------------------------------------------------------ adapters

    def get_storage_instance(self, storage_name: str) -> Any:
        """The adapter named ``storage_name``, created on first use but not connected."""
        return self._slot(storage_name).adapter

    def get_connected_storage(self, storage_name: str) -> Any:
        """The adapter named ``storage_name``, connected on first use (``STORAGE_CONNECT``).

        Raises:
            SpecError: no storage has that name, or its class cannot be built, or its client
                library is not installed (``MissingExtraError``, which is a ``SpecError``).
        """
        slot = self._slot(storage_name)
        if not slot.adapter.is_connected():
            with slot.connect_lock:
                if not slot.adapter.is_connected():
                    self._emit(TraceName.STORAGE_CONNECT, {"storage_name": storage_name})
                    slot.adapter.connect()
        return slot.adapter

    def get_storage_name_by_task_name(self, task_name: str) -> str | None:
        """The storage task ``task_name`` uses, or ``None``."""
        return self.system.spec.task(task_name).storage

    def get_storage_by_task_name(self, task_name: str) -> Any:
        """The connected adapter of task ``task_name``, or ``None`` when it has no storage."""
        name = self.get_storage_name_by_task_name(task_name)
        return None if name is None else self.get_connected_storage(name)

    storage_of = get_storage_by_task_name

    def disconnect_all(self) -> None:
        """Disconnect every connected adapter (``STORAGE_DISCONNECT``); errors are traced."""
        with self._lock:
            slots = dict(self._slots)
        for name, slot in slots.items():
            if slot.adapter.is_connected():
                self._emit(TraceName.STORAGE_DISCONNECT, {"storage_name": name})
                try:
                    slot.adapter.disconnect()
                except Exception as exc:  # a failing disconnect must not stop the others
                    self._emit(
                        TraceName.STORAGE_ISSUE, {"storage_name": name}, what=describe_error(exc)
                    )

    close = disconnect_all

    def __enter__(self) -> StoragePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect_all()

    # ------------------------------------------------------------------ reads

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The stored result of task ``task_name`` (id ``task_id``), through the cache.

        Also :meth:`get`, the :class:`~selinon_core.ports.ResultsPort` read (called with
        keywords), and what :meth:`StoragePoolView.get` reads parent results with.

        Raises:
            ResultMissing: nothing is stored under ``task_id`` (or the task has no storage).
            TransientBackendError: the storage failed; try again later.
        """
        lean = self._lean.get(task_name)
        if lean is None or not lean[0].adapter.is_connected():
            lean = self._lean_slot(task_name)
        if lean is not None:  # nobody listens and no cache: just the adapter call
            return self._read(lean, flow_name, task_name, task_id)
        storage_name, storage_task_name = self._task_storage(task_name, task_id)
        slot = self._connected_slot(storage_name)
        details = _details(flow_name, task_name, storage_task_name, storage_name, task_id)
        use_cache = self._trace is not None or not slot.cache_keeps_nothing
        if use_cache:
            found, result = self._cache_get(slot, details)
            if found:
                return result
        self._emit(TraceName.STORAGE_RETRIEVE, details)
        result = self._read((slot, storage_name, storage_task_name), flow_name, task_name, task_id)
        self._emit(TraceName.STORAGE_RETRIEVED, details)
        if use_cache:
            self._cache_add(slot, details, result)
        return result

    get = retrieve  # the hot path: no extra call layer for ResultsPort reads

    def storage_pool(self, *, flow_name: str, parent: Mapping[str, Any]) -> StoragePoolView:
        """A view for user callables (``foreach``, selective run functions) bound to ``parent``."""
        return StoragePoolView(self, flow_name, parent)

    # ------------------------------------------------------------------ writes

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        """Store a task's result in its storage (``STORAGE_STORE``/``STORAGE_STORED``).

        Returns:
            The adapter's record id.

        Raises:
            ResultMissing: the task has no storage (or is ``storage_read_only``).
            Exception: whatever the adapter raised (the task fails and may be retried).
        """
        storage_name, storage_task_name, writable = self._route(task_name)
        if not writable:
            raise ResultMissing(f"task {task_name!r} has no writable storage configured")
        slot = self._connected_slot(storage_name)
        if self._trace is None:  # nothing to report: just the adapter call
            if slot.thread_safe:
                return slot.adapter.store(node_args, flow_name, storage_task_name, task_id, result)
            with slot.call_lock:
                return slot.adapter.store(node_args, flow_name, storage_task_name, task_id, result)
        details = _details(flow_name, task_name, storage_task_name, storage_name, task_id)
        details["node_args"] = node_args
        self._emit(TraceName.STORAGE_STORE, details)
        try:
            with slot.call_lock:
                record_id = slot.adapter.store(
                    node_args, flow_name, storage_task_name, task_id, result
                )
        except Exception as exc:
            self._emit(TraceName.STORAGE_ISSUE, details, what=describe_error(exc))
            raise
        self._emit(TraceName.STORAGE_STORED, details, record_id=_jsonable_id(record_id))
        return record_id

    set = store

    def store_error(
        self,
        node_args: Any,
        flow_name: str,
        task_name: str,
        task_id: str,
        exc_info: ExcInfo,
    ) -> bool:
        """Record a task failure in its storage, if the adapter supports it.

        Never raises for storage trouble: a failure is already being handled.

        Returns:
            ``True`` when the adapter recorded it; ``False`` when the task has no writable
            storage or the adapter does not record errors (``STORAGE_OMIT_STORE_ERROR``) or it
            failed (``STORAGE_ISSUE``).
        """
        spec = self.system.spec.task(task_name)
        details: dict[str, Any] = {
            "flow_name": flow_name,
            "task_name": task_name,
            "task_id": task_id,
            "node_args": node_args,
            "error_type": exc_info[0].__name__,
            "error_value": str(exc_info[1]),
        }
        if not spec.stores_results:
            self._emit(TraceName.STORAGE_OMIT_STORE_ERROR, details)
            return False
        details["storage_name"] = spec.storage
        details["storage_task_name"] = spec.effective_storage_task_name
        try:
            slot = self._connected_slot(spec.storage or "")
            self._emit(TraceName.STORAGE_STORE_ERROR, details)
            with slot.call_lock:
                slot.adapter.store_error(
                    node_args, flow_name, spec.effective_storage_task_name, task_id, exc_info
                )
        except NotImplementedError:
            self._emit(TraceName.STORAGE_OMIT_STORE_ERROR, details)
            return False
        except Exception as exc:
            self._emit(TraceName.STORAGE_ISSUE, details, what=describe_error(exc))
            return False
        return True

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Delete a task's stored result (``STORAGE_DELETE``/``STORAGE_DELETED``).

        The storage's cache is not purged: cached results are immutable per task id.
        """
        storage_name, storage_task_name = self._task_storage(task_name, task_id)
        slot = self._connected_slot(storage_name)
        details = {
            "flow_name": flow_name,
            "task_name": task_name,
            "storage_task_name": storage_task_name,
            "storage_name": storage_name,
            "task_id": task_id,
        }
        self._emit(TraceName.STORAGE_DELETE, details)
        try:
            with slot.call_lock:
                slot.adapter.delete(flow_name, storage_task_name, task_id)
        except Exception as exc:
            self._emit(TraceName.STORAGE_ISSUE, details, what=describe_error(exc))
            raise
        self._emit(TraceName.STORAGE_DELETED, details)

    # ------------------------------------------------------------------ internals

    def _slot(self, storage_name: str) -> _Slot:
        slot = self._slots.get(storage_name)
        if slot is None:
            with self._lock:
                slot = self._slots.get(storage_name)
                if slot is None:
                    slot = self._slots[storage_name] = self._create(storage_name)
        return slot

    def _connected_slot(self, storage_name: str) -> _Slot:
        slot = self._slots.get(storage_name)
        if slot is not None and slot.adapter.is_connected():
            return slot
        try:
            self.get_connected_storage(storage_name)
        except SelinonError:
            raise
        except Exception as exc:
            self._emit(
                TraceName.STORAGE_ISSUE, {"storage_name": storage_name}, what=describe_error(exc)
            )
            raise TransientBackendError(
                f"storage {storage_name!r} cannot connect: {describe_error(exc)}"
            ) from exc
        return self._slots[storage_name]

    def _create(self, storage_name: str) -> _Slot:
        try:
            spec = self.system.spec.storage(storage_name)
        except KeyError:
            raise SpecError(f"unknown storage {storage_name!r}") from None
        cls = self.system.resolve(spec.import_, spec.classname)
        config = spec.configuration
        try:
            if config is None:
                adapter = cls()
            elif isinstance(config, Mapping):
                adapter = cls(**config)
            else:
                adapter = cls(config)
        except (TypeError, ValueError) as exc:
            raise SpecError(
                f"storage {storage_name!r} ({spec.import_}.{spec.classname}) rejected its "
                f"configuration: {exc}"
            ) from exc
        except SpecError as exc:  # e.g. a variable its configuration names is not set
            raise SpecError(
                [replace(p, message=f"storage {storage_name!r}: {p.message}") for p in exc.problems]
            ) from exc
        return _Slot(adapter, build_cache(spec.cache, self.system))

    def _route(self, task_name: str) -> tuple[str, str, bool]:
        """``(storage name or "", storage task name, stores results)`` of a task, memoised."""
        route = self._routes.get(task_name)
        if route is None:
            spec = self.system.spec.task(task_name)
            route = (spec.storage or "", spec.effective_storage_task_name, spec.stores_results)
            self._routes[task_name] = route
        return route

    def _lean_slot(self, task_name: str) -> tuple[_Slot, str, str] | None:
        """``(slot, storage name, storage task name)`` when a read needs no trace or cache work.

        That is: nobody listens, the task's storage keeps no cache and is already connected.
        ``None`` sends the read down the full path (first read, caches, tracing, errors).
        Found slots are memoised in ``_lean`` (callers still check that they are connected).
        """
        if self._trace is not None:
            return None
        route = self._routes.get(task_name)
        if route is None or not route[0]:
            return None
        slot = self._slots.get(route[0])
        if slot is None or not slot.cache_keeps_nothing or not slot.adapter.is_connected():
            return None
        lean = self._lean[task_name] = (slot, route[0], route[1])
        return lean

    def _task_storage(self, task_name: str, task_id: str) -> tuple[str, str]:
        storage_name, storage_task_name, _ = self._route(task_name)
        if not storage_name:
            raise ResultMissing(
                f"task {task_name!r} has no storage configured, so the result of task id "
                f"{task_id!r} was not kept"
            )
        return storage_name, storage_task_name

    def _cache_get(self, slot: _Slot, details: dict[str, Any]) -> tuple[bool, Any]:
        self._emit(TraceName.TASK_RESULT_CACHE_GET, details)
        try:
            result = slot.cache.get(
                details["task_id"], task_name=details["task_name"], flow_name=details["flow_name"]
            )
        except CacheMissError as exc:
            self._emit(TraceName.TASK_RESULT_CACHE_MISS, details, what=str(exc))
            return False, None
        except Exception as exc:
            self._emit(TraceName.TASK_RESULT_CACHE_ISSUE, details, what=describe_error(exc))
            return False, None
        self._emit(TraceName.TASK_RESULT_CACHE_HIT, details)
        return True, result

    def _cache_add(self, slot: _Slot, details: dict[str, Any], result: Any) -> None:
        self._emit(TraceName.TASK_RESULT_CACHE_ADD, details)
        try:
            slot.cache.add(
                details["task_id"],
                result,
                task_name=details["task_name"],
                flow_name=details["flow_name"],
            )
        except Exception as exc:
            self._emit(TraceName.TASK_RESULT_CACHE_ISSUE, details, what=describe_error(exc))

    def _read(
        self, lean: tuple[_Slot, str, str], flow_name: str, task_name: str, task_id: str
    ) -> Any:
        """The one adapter read: under the slot's lock if it has one, errors translated.

        ``lean`` is ``(slot, storage name, storage task name)``, as :meth:`_lean_slot` finds.
        """
        slot, storage_name, storage_task_name = lean
        try:
            if slot.thread_safe:
                return slot.adapter.retrieve(flow_name, storage_task_name, task_id)
            with slot.call_lock:
                return slot.adapter.retrieve(flow_name, storage_task_name, task_id)
        except Exception as exc:
            details = _details(flow_name, task_name, storage_task_name, storage_name, task_id)
            raise self._read_failure(exc, details) from exc

    def _read_failure(self, exc: Exception, details: dict[str, Any]) -> Exception:
        """What a failed adapter read raises: foreign exceptions become engine errors."""
        if isinstance(exc, ResultMissing):
            return exc
        if isinstance(exc, KeyError | FileNotFoundError):
            return ResultMissing(
                f"storage {details['storage_name']!r}: no result for task id "
                f"{details['task_id']!r} ({describe_error(exc)})"
            )
        self._emit(TraceName.STORAGE_ISSUE, details, what=describe_error(exc))
        if isinstance(exc, SelinonError):
            return exc
        return TransientBackendError(
            f"storage {details['storage_name']!r} failed: {describe_error(exc)}"
        )

    def _emit(self, name: TraceName, details: dict[str, Any], **extra: Any) -> None:
        if self._trace is not None:
            self._trace(TraceEvent(name, self._clock(), {**details, **extra}))


CLASS_LEVEL_METHODS: tuple[str, ...] = (
    "get_storage_instance",
    "get_connected_storage",
    "get_storage_name_by_task_name",
    "get_storage_by_task_name",
    "retrieve",
    "set",
    "delete",
)
"""Methods that task code written for Selinon calls on the class itself."""

_CURRENT: list[StoragePool | None] = [None]


def current_pool() -> StoragePool:
    """The pool that class-level calls use: the one made current last in this process.

    Raises:
        RuntimeError: no runtime created a pool in this process yet.
    """
    pool = _CURRENT[0]
    if pool is None:
        raise RuntimeError(
            "StoragePool was called on the class, but no flow runtime has started in this "
            "process yet; call it from a task (or a predicate or foreach function) that a "
            "runtime runs, or use the pool of the runtime you created"
        )
    return pool


class _EitherLevel:
    """A pool method callable on an instance or, as Selinon's API, on the class.

    On the class it is bound to :func:`current_pool`, so ``StoragePool.retrieve(flow_name,
    task_name, task_id)`` in a task reads through the running worker's pool.
    """

    def __init__(self, function: Callable[..., Any]) -> None:
        self.__func__ = function
        self.__doc__ = function.__doc__
        self.__name__ = function.__name__
        self.__wrapped__ = function

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        return MethodType(self.__func__, current_pool() if instance is None else instance)


for _name in CLASS_LEVEL_METHODS:
    setattr(StoragePool, _name, _EitherLevel(StoragePool.__dict__[_name]))


class StoragePoolView:
    """The ``storage_pool`` handed to user callables: storages plus the parent's results.

    Args:
        pool: the process's storage pool.
        flow_name: the flow whose edge is being evaluated.
        parent: node name → task id of the edge's source combination.
    """

    def __init__(self, pool: StoragePool, flow_name: str, parent: Mapping[str, Any]) -> None:
        self._pool = pool
        self.flow_name = flow_name
        self.parent = parent

    def get_connected_storage(self, storage_name: str) -> Any:
        """The connected adapter named ``storage_name``."""
        return self._pool.get_connected_storage(storage_name)

    def get(self, task_name: str) -> Any:
        """The stored result of parent task ``task_name``.

        Raises:
            NoParentNodeError: ``task_name`` is not a parent of the edge.
        """
        try:
            task_id = self.parent[task_name]
        except KeyError:
            known = ", ".join(sorted(self.parent)) or "none"
            raise NoParentNodeError(
                f"{task_name!r} is not a parent task here (parents: {known})"
            ) from None
        return self._pool.retrieve(self.flow_name, task_name, task_id)


def _details(
    flow_name: str, task_name: str, storage_task_name: str, storage_name: str, task_id: str
) -> dict[str, Any]:
    """The trace details of one read or write."""
    return {
        "flow_name": flow_name,
        "task_name": task_name,
        "storage_task_name": storage_task_name,
        "storage_name": storage_name,
        "task_id": task_id,
    }


def _jsonable_id(record_id: Any) -> Any:
    if record_id is None or isinstance(record_id, str | int | float | bool):
        return record_id
    return repr(record_id)
