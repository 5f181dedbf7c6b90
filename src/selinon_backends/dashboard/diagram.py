"""The flow diagram of a flow page: the SVG of :mod:`selinon_backends.plot`, coloured by status.

``plot`` draws each node as an SVG group with id ``node-<name>``.  The page colours a node by
a ``data-status`` attribute on that group (set here for the first render, then by the page's
script on live updates); the stylesheet maps statuses to colours.  Without ``plot`` (or
without graphviz) the page is shown without a diagram.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selinon_core.config.system import System

__all__ = ["DiagramCache", "colour_svg", "render_svg"]

_log = logging.getLogger(__name__)
_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')


def render_svg(system: System, flow_name: str) -> str | None:
    """The SVG text of ``flow_name``'s diagram, ``None`` when it cannot be drawn here."""
    try:
        from selinon_backends.plot import render_flow  # noqa: PLC0415 - optional, lazy
    except ImportError:
        return None
    try:
        drawn: Any = render_flow(system, flow_name, "svg")
    except Exception as exc:  # a page without a diagram beats an error page
        _log.warning("cannot draw flow %r for the dashboard: %s", flow_name, exc)
        return None
    text = drawn.decode("utf-8") if isinstance(drawn, bytes) else str(drawn)
    start = text.find("<svg")
    if start < 0:
        return None
    # the page's stylesheet sizes the diagram (its viewBox keeps the proportions)
    head_end = text.index(">", start)
    head = _SIZE.sub("", text[start:head_end])
    return head + text[head_end:]


def colour_svg(svg: str, statuses: Mapping[str, str]) -> str:
    """``svg`` with ``data-status`` set on the group of every node named in ``statuses``."""
    for name, status in statuses.items():
        plain = html.escape(f"node-{name}", quote=True)
        attribute = f' data-status="{html.escape(status, quote=True)}"'
        for marker in (f'id="{plain}"', f'id="{plain.replace("-", "&#45;")}"'):
            if marker in svg:  # graphviz writes '-' as '&#45;'
                svg = svg.replace(marker, marker + attribute, 1)
                break
    return svg


class DiagramCache:
    """Diagrams drawn once per flow name (the configuration does not change while serving)."""

    def __init__(self, system: System | None) -> None:
        self._system = system
        self._svgs: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def get(self, flow_name: str) -> str | None:
        """The SVG of ``flow_name`` (``None`` without a configuration or without ``plot``)."""
        if self._system is None:
            return None
        with self._lock:
            if flow_name not in self._svgs:
                known = flow_name in self._system.spec.flows
                self._svgs[flow_name] = render_svg(self._system, flow_name) if known else None
            return self._svgs[flow_name]
