"""Fixtures of the runtime tests; the helpers themselves live in ``rt_support``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import rt_tasks
from rt_support import SCHEMA


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
