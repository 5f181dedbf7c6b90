"""Foreach functions of the dinner example."""

from typing import Any


def plates(storage_pool: Any, node_args: Any) -> range:
    """One plate per guest (``node_args["guests"]``, 2 by default)."""
    return range(int((node_args or {}).get("guests", 2)))
