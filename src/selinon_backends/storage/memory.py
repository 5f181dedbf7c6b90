"""In-memory storage: results in a dict of the current process (CLI runs, tests, demos).

YAML::

    storages:
      - name: Memory
        import: selinon.storages.memory      # or selinon_backends.storage.memory
        classname: InMemoryStorage
        configuration:
          echo: false      # true / "stdout" / "stderr": print each stored record
          json: false      # true: JSON round trip, catching non-serialisable results early
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from selinon_core.datastorage import DataStorage, ExcInfo

from ._records import dumps, failure_of, failure_record, loads, missing

__all__ = ["InMemoryStorage"]


class InMemoryStorage(DataStorage):
    """Results kept in a dict keyed by task id; thread-safe.

    Args:
        echo: ``True`` or ``"stdout"`` prints each stored record to stdout, ``"stderr"`` to
            stderr, ``False`` prints nothing.
        json: store a JSON round trip of each result instead of the object itself, so that a
            result that a real storage could not serialise fails here too (``TypeError``) and
            later mutations of the returned object do not change the stored one.
    """

    thread_safe = True

    def __init__(self, echo: bool | str = False, json: bool = False) -> None:
        self.echo = echo
        self.json = bool(json)
        self._results: dict[str, Any] = {}
        self._errors: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._connected = False

    def connect(self) -> None:
        """Nothing to connect; marks the instance connected."""
        self._connected = True

    def is_connected(self) -> bool:
        """Whether :meth:`connect` was called (and :meth:`disconnect` was not)."""
        return self._connected

    def disconnect(self) -> None:
        """Marks the instance disconnected; stored results are kept."""
        self._connected = False

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The result stored for ``task_id`` (``ResultMissing`` if none)."""
        with self._lock:
            try:
                value = self._results[task_id]
            except KeyError:
                raise missing("in-memory storage", flow_name, task_name, task_id) from None
        return loads(value) if self.json else value

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> str:
        """Keep ``result`` under ``task_id`` (overwriting); returns the task id."""
        value = dumps(result) if self.json else result
        with self._lock:
            self._results[task_id] = value
        self._echo(
            {
                "flow_name": flow_name,
                "task_name": task_name,
                "task_id": task_id,
                "node_args": node_args,
                "result": result,
            }
        )
        return task_id

    def store_error(
        self,
        node_args: Any,
        flow_name: str,
        task_name: str,
        task_id: str,
        exc_info: ExcInfo,
    ) -> str:
        """Keep a description of the failure under ``task_id``; returns the task id."""
        record = failure_record(node_args, exc_info, flow_name=flow_name, task_name=task_name)
        with self._lock:
            self._errors[task_id] = record
        return task_id

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> dict[str, Any]:
        """The error record kept by :meth:`store_error` (``ResultMissing`` if none)."""
        with self._lock:
            try:
                return failure_of(self._errors[task_id])
            except KeyError:
                raise missing("in-memory storage (errors)", flow_name, task_name, task_id) from None

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Forget the result (and error) of ``task_id``; a no-op if there is none."""
        with self._lock:
            self._results.pop(task_id, None)
            self._errors.pop(task_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._results)

    def _echo(self, record: dict[str, Any]) -> None:
        stream: TextIO | None
        if self.echo == "stderr":
            stream = sys.stderr
        elif self.echo is True or self.echo == "stdout":
            stream = sys.stdout
        else:
            stream = None
        if stream is not None:
            print(f"InMemoryStorage: {record!r}", file=stream)
