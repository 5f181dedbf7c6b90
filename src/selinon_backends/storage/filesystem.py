"""Filesystem storage: one JSON file per task result, written atomically.

Layout: ``<path>/<flow_name>/<task_name>/<task_id>.json`` (failures recorded by ``store_error``
go to ``<task_id>.error.json`` next to it).  Each file is written to a temporary file in the
same directory and renamed over the target, so a reader never sees half a result.

YAML::

    storages:
      - name: Files
        import: selinon.storages.filesystem
        classname: Filesystem
        configuration:
          path: '{HOME}/selinon-results'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from selinon_backends.storage._env import expand_settings
from selinon_core.datastorage import DataStorage, ExcInfo

from ._records import (
    ERROR_SUFFIX,
    RECORD_SUFFIXES,
    dumps,
    failure_of,
    failure_record,
    loads,
    missing,
    record_parts,
)

__all__ = ["Filesystem"]


class Filesystem(DataStorage):
    """JSON files under a directory; thread- and process-safe (atomic rename).

    Args:
        path: the root directory (created on :meth:`connect`); defaults to the working directory.
        fsync: flush each file to disk before renaming it (slower, survives power loss).
    """

    thread_safe = True

    def __init__(self, path: str | os.PathLike[str] | None = None, fsync: bool = False) -> None:
        if isinstance(path, str):
            path = expand_settings("Filesystem storage", path=path)["path"]
        self.path = Path(path if path is not None else os.getcwd())
        self.fsync = bool(fsync)
        self._connected = False

    def connect(self) -> None:
        """Create the root directory if needed."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._connected = True

    def is_connected(self) -> bool:
        """Whether :meth:`connect` was called (and :meth:`disconnect` was not)."""
        return self._connected

    def disconnect(self) -> None:
        """Nothing to release; marks the instance disconnected."""
        self._connected = False

    def result_path(self, flow_name: str, task_name: str, task_id: str, suffix: str = "") -> Path:
        """The file holding the result of ``task_id`` (``suffix`` ``".error"`` for failures)."""
        return self.path.joinpath(*record_parts(flow_name, task_name, task_id, suffix))

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The result stored for ``task_id`` (``ResultMissing`` if none)."""
        return self._read(flow_name, task_name, task_id, "")

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> str:
        """Write ``result`` as JSON (overwriting); returns the file path."""
        target = self.result_path(flow_name, task_name, task_id)
        self._write(target, dumps(result))
        return str(target)

    def store_error(
        self,
        node_args: Any,
        flow_name: str,
        task_name: str,
        task_id: str,
        exc_info: ExcInfo,
    ) -> str:
        """Write a description of the failure to ``<task_id>.error.json``."""
        target = self.result_path(flow_name, task_name, task_id, ERROR_SUFFIX)
        self._write(target, dumps(failure_record(node_args, exc_info)))
        return str(target)

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> dict[str, Any]:
        """The error record written by :meth:`store_error` (``ResultMissing`` if none)."""
        return failure_of(self._read(flow_name, task_name, task_id, ERROR_SUFFIX))

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Remove the result and error files of ``task_id``; a no-op if there are none."""
        for suffix in RECORD_SUFFIXES:
            self.result_path(flow_name, task_name, task_id, suffix).unlink(missing_ok=True)

    def _read(self, flow_name: str, task_name: str, task_id: str, suffix: str) -> Any:
        target = self.result_path(flow_name, task_name, task_id, suffix)
        try:
            text = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise missing(
                f"filesystem storage {self.path}", flow_name, task_name, task_id
            ) from None
        return loads(text)

    def _write(self, target: Path, text: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
