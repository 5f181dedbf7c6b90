"""Helpers shared by the runtime tests (a plain module: test modules import it by name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selinon_core.config.system import System

HERE = Path(__file__).parent
SCHEMA = HERE / "data" / "value_schema.json"

TASKS = [
    "Noop",
    "Echo",
    "Add",
    "Flaky",
    "Boom",
    "Fatal",
    "AskRetry",
    "NotJson",
    "BadSchema",
    "Hang",
    "AsyncEcho",
    "Sleepy",
    "ParentError",
]


def task_entry(name: str, **extra: Any) -> dict[str, Any]:
    """A task entry importing the class ``name`` from ``rt_tasks``, stored in Memory."""
    entry: dict[str, Any] = {"name": name, "import": "rt_tasks", "storage": "Memory"}
    entry.update(extra)
    return entry


def make_system(flows: dict[str, Any], **task_overrides: dict[str, Any]) -> System:
    """A System with every test task (plus overrides per task) and the given flows."""
    tasks = [task_entry(name, **task_overrides.get(name, {})) for name in TASKS]
    extra = [task_entry(name, **opts) for name, opts in task_overrides.items() if name not in TASKS]
    return System.from_dict(
        {
            "tasks": tasks + extra,
            "storages": [
                {
                    "name": "Memory",
                    "import": "selinon.storages.memory",
                    "classname": "InMemoryStorage",
                    "configuration": {},
                }
            ],
            "flows": {name: {"name": name, **body} for name, body in flows.items()},
        }
    )
