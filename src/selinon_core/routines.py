"""Default user routines named by configurations (``selinon.routines`` in YAML).

The selective run function of a task decides, on a selective run, whether a task that lies on
the path to a requested task runs again or reuses an earlier result.  Its signature is
``fn(flow_name, node_name, node_args, task_names, storage_pool) -> task id | None``: a task id
means "reuse the result stored under that id", ``None`` means "run the task".
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from selinon_core.ports import StoragePoolView

__all__ = ["always_run"]


def always_run(
    flow_name: str,
    node_name: str,
    node_args: Any,
    task_names: Collection[str],
    storage_pool: StoragePoolView,
) -> None:
    """The default selective run function: never reuse a result, always run the task.

    Args:
        flow_name: the flow the task runs in.
        node_name: the task the decision is about.
        node_args: the arguments of the flow.
        task_names: the tasks the selective run asked for.
        storage_pool: access to storages and parent results.

    Returns:
        Always ``None``: run the task.
    """
    del flow_name, node_name, node_args, task_names, storage_pool
