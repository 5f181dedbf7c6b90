"""The in-process runtime: run flows in this process, fast and deterministically.

>>> engine = Engine(system, clock=VirtualClock())          # doctest: +SKIP
>>> run = engine.run_flow("flow1", {"foo": "bar"})           # doctest: +SKIP
>>> run.status, [r.node_name for r in run.runs]              # doctest: +SKIP
"""

from selinon_backends.runtime.clock import Clock, RealClock, VirtualClock
from selinon_backends.runtime.engine import Engine
from selinon_backends.runtime.report import FlowRun, NodeRun

__all__ = ["Clock", "Engine", "FlowRun", "NodeRun", "RealClock", "VirtualClock"]
