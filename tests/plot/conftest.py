"""A small configuration that has every kind of diagram element."""

from __future__ import annotations

import pytest

from selinon_core.config.loader import load_system_from_texts
from selinon_core.config.system import System

NODES = """
tasks:
  - {name: Fetch, import: app.tasks, storage: Cache}
  - {name: Parse, import: app.tasks, storage: Cache}
  - {name: Reader, import: app.tasks, storage: Cache, storage_read_only: true}
  - {name: Each, import: app.tasks}
  - {name: Rescue, import: app.tasks}
  - {name: Notify, import: app.tasks}
storages:
  - {name: Cache, import: selinon.storages.memory, classname: InMemoryStorage,
     configuration: {echo: false}}
flows: [mainFlow, subFlow]
"""

FLOWS = """
flow-definitions:
  - name: mainFlow
    nowait: Notify
    edges:
      - from: []
        to: Fetch
      - from: Fetch
        to: [Parse, subFlow]
        condition:
          name: fieldEqual
          args: {key: ok, value: true}
      - from: Parse
        to: Each
        foreach: {import: app.foreach, function: items}
      - from: [Parse, subFlow]
        to: [Reader, Notify]
        condition:
          and:
            - {name: argsFieldEqual, args: {key: mode, value: "a\\\\b \\"q\\""}}
            - not: {name: alwaysFalse}
      - from: Each
        to: subFlow
        foreach: {import: app.foreach, function: items, propagate_result: true}
    failures:
      - nodes: Fetch
        fallback: Rescue
      - nodes: [Parse, subFlow]
        fallback: true
      - nodes: Each
        fallback: [Rescue]
        condition: {name: argsFieldEqual, args: {key: retry, value: false}}
  - name: subFlow
    edges:
      - {from: [], to: Rescue}
"""


@pytest.fixture(scope="session")
def system() -> System:
    """The configuration above (user modules are not imported)."""
    return load_system_from_texts(NODES, [FLOWS], check_imports=False)
