"""A budget for YAML aliases: the expanded size of a configuration is bounded.

The YAML reader keeps an aliased mapping or list as one shared object, so parsing is linear in
the text.  But the validators walk the configuration as a tree, so a small text whose anchors
each list the previous one many times (the "billion laughs") would still be walked for hours.
:func:`check_alias_budget` counts, in time linear in the number of *distinct* objects, how many
values a tree walk would visit, and reports the configuration when that exceeds a budget,
naming the anchor whose aliases contribute most.  Aliases in ignored parts of the files (an
unknown top-level key) cost nothing, since those parts are dropped before the check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selinon_core.config.yamlsource import Anchor
from selinon_core.errors import Problem

__all__ = ["ALIAS_BUDGET", "check_alias_budget"]

ALIAS_BUDGET = 200_000
"""The most values (mappings, lists and scalars, counted through every alias) a configuration
may expand to.  Real configurations are far below it: aliases there share a few edges or
settings."""


def check_alias_budget(
    data: Any, anchors: Mapping[int, Anchor], budget: int = ALIAS_BUDGET
) -> Problem | None:
    """A problem when ``data`` expands to more than ``budget`` values through shared objects.

    Args:
        data: the assembled configuration (a DAG of dicts and lists).
        anchors: the anchor of each shared object, by ``id()``.
        budget: the largest expanded size accepted.
    """
    sizes: dict[int, int] = {}
    uses: dict[int, int] = {}
    total = _size(data, sizes, uses)
    if total <= budget:
        return None
    worst = max(
        (key for key in anchors if uses.get(key, 0) > 1),
        key=lambda key: sizes.get(key, 0) * (uses.get(key, 0) - 1),
        default=None,
    )
    message = (
        f"the configuration expands to {total:,} values through YAML aliases, more than the "
        f"{budget:,} allowed"
    )
    if worst is None:
        return Problem(message, hint="use fewer aliases")
    anchor = anchors[worst]
    return Problem(
        f"{message}: anchor '&{anchor.name}' ({sizes[worst]:,} values) is used {uses[worst]} times",
        anchor.loc.file,
        anchor.loc.line,
        anchor.loc.column,
        hint="an anchor that lists another anchor many times multiplies its size",
    )


def _size(root: Any, sizes: dict[int, int], uses: dict[int, int]) -> int:
    """Expanded size of ``root``, memoised by ``id()`` (iterative: deep data is fine)."""
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            sizes[key] = 1 + sum(_child_size(c, sizes) for c in _children(node))
            continue
        uses[key] = uses.get(key, 0) + 1
        if key in sizes or uses[key] > 1:
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if isinstance(c, dict | list))
    return _child_size(root, sizes)


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return node
    return []


def _child_size(node: Any, sizes: dict[int, int]) -> int:
    if isinstance(node, dict | list):
        return sizes.get(id(node), 1)
    return 1
