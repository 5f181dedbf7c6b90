"""Flow-state stores: where each running flow's state and outbox live between events.

Implementations of :class:`selinon_backends.ports.FlowStateStore`.  Today: memory (the
in-process runtime).  Redis and PostgreSQL stores are planned with the distributed runtime.
"""

from selinon_backends.state.memory import MemoryStateStore

__all__ = ["MemoryStateStore"]
