"""Tasks of the quickstart example, named by ``import: quickstart.tasks``."""

from __future__ import annotations

from typing import Any

from selinon_core import SelinonTask


class Greet(SelinonTask):
    """Build a greeting for ``node_args["name"]`` (default: world)."""

    def run(self, node_args: Any) -> dict[str, Any]:
        """Return the greeting and whether it is polite."""
        name = (node_args or {}).get("name", "world")
        return {"greeting": f"Hello, {name}!", "polite": True}


class Shout(SelinonTask):
    """Shout the greeting that ``Greet`` produced."""

    def run(self, node_args: Any) -> dict[str, Any]:
        """Return the parent's greeting in capitals."""
        greeting = self.parent_task_result("Greet")["greeting"]
        return {"shout": str(greeting).upper()}
