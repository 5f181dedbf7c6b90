"""A generated large flow for the diagram tests and ``benchmarks/plot.py``.

``big_flow_texts(n)`` gives a nodes file and a flow file of one flow ``bigFlow`` of ``n`` tasks:
a chain ``T0 → T1 → ...`` with a condition on every edge, every tenth task also joining the one
ten places back (two-source edges), every 25th edge a ``foreach``, a failure with a fallback
every 50 tasks, and every task storing into one of two storages.
"""

from __future__ import annotations

from selinon_core.config.loader import load_system_from_texts
from selinon_core.config.system import System

BIG_FLOW = "bigFlow"
_JOIN_EVERY = 10
_FOREACH_EVERY = 25
_FAILURE_EVERY = 50


def big_flow_texts(n: int) -> tuple[str, str]:
    """The nodes text and the flow text of ``bigFlow`` with ``n`` tasks (``n`` >= 2)."""
    tasks = "\n".join(f"  - {{name: T{i}, import: bigtasks, storage: S{i % 2}}}" for i in range(n))
    storages = "\n".join(
        f"  - {{name: S{k}, import: selinon.storages.memory, classname: InMemoryStorage, "
        f"configuration: {{echo: false}}}}"
        for k in range(2)
    )
    nodes = f"tasks:\n{tasks}\nstorages:\n{storages}\nflows: [{BIG_FLOW}]\n"
    edges = ["      - {from: [], to: T0}"]
    for i in range(1, n):
        edges.append(_edge(i))
    failures = [
        f"      - {{nodes: T{i}, fallback: T{i + 1}}}"
        for i in range(_FAILURE_EVERY, n - 1, _FAILURE_EVERY)
    ]
    flow = f"flow-definitions:\n  - name: {BIG_FLOW}\n    edges:\n" + "\n".join(edges) + "\n"
    if failures:
        flow += "    failures:\n" + "\n".join(failures) + "\n"
    return nodes, flow


def _edge(i: int) -> str:
    sources = [f"T{i - 1}"]
    if i % _JOIN_EVERY == 0 and i >= _JOIN_EVERY:
        sources.append(f"T{i - _JOIN_EVERY}")
    condition = f"{{name: fieldEqual, node: T{i - 1}, args: {{key: step, value: {i}}}}}"
    foreach = ""
    if i % _FOREACH_EVERY == 0:
        foreach = ", foreach: {import: bigtasks, function: items}"
    return f"      - {{from: [{', '.join(sources)}], to: T{i}, condition: {condition}{foreach}}}"


def big_flow_system(n: int) -> System:
    """The loaded System of :func:`big_flow_texts` (user modules are not imported)."""
    nodes, flow = big_flow_texts(n)
    return load_system_from_texts(nodes, [flow], check_imports=False)
