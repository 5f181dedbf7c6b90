"""Shared helpers of the runtime tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rt_tasks

from selinon_core.system import System

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


@pytest.fixture(autouse=True)
def _reset_task_state() -> Iterator[None]:
    rt_tasks.CALLS.clear()
    rt_tasks.RELEASE.clear()
    yield
    rt_tasks.RELEASE.set()


@pytest.fixture(scope="session", autouse=True)
def _schema_file() -> None:
    SCHEMA.parent.mkdir(exist_ok=True)
    schema = {"type": "object", "properties": {"value": {"type": "number"}}}
    if not SCHEMA.exists() or json.loads(SCHEMA.read_text()) != schema:
        SCHEMA.write_text(json.dumps(schema))
