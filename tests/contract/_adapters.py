"""User-style storage adapters and caches used by the storage-pool tests."""

from __future__ import annotations

import threading
import time
from typing import Any

from selinon_backends._clients import optional_import
from selinon_core.datastorage import DataStorage


class Recording(DataStorage):
    """Not thread-safe on purpose; records calls and the highest number of concurrent calls."""

    connects = 0

    def __init__(self, fail_with: str | None = None, slow: float = 0.0) -> None:
        self.fail_with = fail_with
        self.slow = slow
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.data: dict[str, Any] = {}
        self.connected = False
        self.active = 0
        self.max_active = 0
        self._count_lock = threading.Lock()

    def connect(self) -> None:
        time.sleep(self.slow)
        with self._count_lock:
            type(self).connects += 1
        if self.fail_with == "connect":
            raise ConnectionRefusedError("no route to the database")
        if self.fail_with == "missing_extra":
            optional_import("selinon_test_no_such_client", extra="redis", purpose="Recording")
        self.connected = True

    def is_connected(self) -> bool:
        return self.connected

    def disconnect(self) -> None:
        self.connected = False

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        self._enter("retrieve", flow_name, task_name, task_id)
        try:
            if self.fail_with == "retrieve":
                raise ConnectionResetError("socket closed")
            return self.data[task_id]  # KeyError when missing, as many user adapters do
        finally:
            self._leave()

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        self._enter("store", node_args, flow_name, task_name, task_id)
        try:
            if self.fail_with == "store":
                raise OSError("disk full")
            self.data[task_id] = result
            return {"not": "a plain id"}
        finally:
            self._leave()

    def _enter(self, name: str, *args: Any) -> None:
        with self._count_lock:
            self.calls.append((name, args))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        time.sleep(self.slow)

    def _leave(self) -> None:
        with self._count_lock:
            self.active -= 1


class FailingStoreError(Recording):
    """An adapter whose ``store_error`` breaks."""

    def store_error(self, *args: Any) -> Any:
        raise RuntimeError("cannot record errors today")


class BrokenCache:
    """A cache that fails on every call."""

    def __init__(self, **_: Any) -> None:
        pass

    def add(self, item_id: str, item: Any, task_name: Any = None, flow_name: Any = None) -> None:
        raise RuntimeError("cache add broke")

    def get(self, item_id: str, task_name: Any = None, flow_name: Any = None) -> Any:
        raise RuntimeError("cache get broke")
