"""The DataStorage base class: abstract surface, optional methods, context manager."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from selinon_core.datastorage import DataStorage


class Minimal(DataStorage):
    """Only the required methods, as a user's Selinon-era adapter may have."""

    def __init__(self) -> None:
        self.connects = 0
        self.disconnects = 0
        self.connected = False

    def connect(self) -> None:
        self.connects += 1
        self.connected = True

    def is_connected(self) -> bool:
        return self.connected

    def disconnect(self) -> None:
        self.disconnects += 1
        self.connected = False

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        return None

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        return None


def test_required_methods_are_abstract() -> None:
    class Incomplete(DataStorage):
        def connect(self) -> None: ...

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


def test_optional_methods_raise_not_implemented() -> None:
    storage = Minimal()
    try:
        raise RuntimeError("x")
    except RuntimeError:
        exc_info = sys.exc_info()
    with pytest.raises(NotImplementedError, match="Minimal does not record task errors"):
        storage.store_error(None, "f", "t", "id", exc_info)  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError, match="Minimal cannot delete results"):
        storage.delete("f", "t", "id")
    assert storage.thread_safe is False


def test_context_manager_connects_only_when_needed() -> None:
    storage = Minimal()
    with storage as same:
        assert same is storage
        assert storage.connected
    assert (storage.connects, storage.disconnects) == (1, 1)
    storage.connect()
    with storage:
        storage.disconnect()  # already disconnected on exit: not disconnected twice
    assert (storage.connects, storage.disconnects) == (2, 2)
