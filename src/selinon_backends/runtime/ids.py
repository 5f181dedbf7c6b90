"""Flow ids for flows started outside the in-process runtime.

The in-process engine numbers its flows (``flow-1``, ``flow-2``, ...) so that runs are
reproducible; a flow started through a broker must have an id no other process can make.  Node
ids derive from their flow's id (``<flow id>.<n>``, see
:func:`selinon_core.dispatch.state.node_id`), so a flow id never contains a dot.
"""

from __future__ import annotations

import uuid

__all__ = ["new_flow_id"]


def new_flow_id() -> str:
    """A globally unique flow id: a random UUID (version 4) as 32 hex digits."""
    return uuid.uuid4().hex
