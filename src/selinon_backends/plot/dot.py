"""Graphviz output: DOT source (the ``graphviz`` Python package) and images (the ``dot`` program).

The DOT source needs only the Python package (the ``plot`` extra).  SVG, PNG and PDF are made by
running graphviz's ``dot`` program, found on ``PATH``; it comes with the Debian package
``graphviz``.  In SVG output every node keeps its diagram id (``node-<name>``, ``cond-<n>``, ...)
as the ``id`` of its element, so that a page can find and colour it.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from selinon_backends.plot.diagram import FlowDiagram
from selinon_backends.plot.errors import GraphvizMissing, PlotError
from selinon_backends.plot.style import PlotStyle

__all__ = ["IMAGE_FORMATS", "diagram_dot", "dot_to_image"]

IMAGE_FORMATS: tuple[str, ...] = ("svg", "png", "pdf")
"""Formats drawn by the ``dot`` program."""

_DOT_TIMEOUT_S = 300
_MISSING_DOT = (
    "the graphviz 'dot' program is needed for {fmt} output but is not on PATH; install it "
    "(Debian/Ubuntu: apt-get install graphviz; the package is named 'graphviz' on most "
    "systems), or choose --format dot or --format mermaid, which need no program"
)
_MISSING_PACKAGE = (
    "the 'graphviz' Python package is needed for dot, svg, png and pdf output; install the "
    "'plot' extra (pip install 'selinon-ng[plot]'), or choose --format mermaid"
)


def _graphviz() -> Any:
    try:
        import graphviz  # noqa: PLC0415 - optional (the 'plot' extra)
    except ImportError as exc:
        raise GraphvizMissing(_MISSING_PACKAGE) from exc
    return graphviz


def _label(graphviz: Any, text: str) -> Any:
    """A DOT label: backslashes kept literally, lines separated by ``\\n``, never HTML."""
    return graphviz.nohtml("\\n".join(line.replace("\\", "\\\\") for line in text.split("\n")))


def diagram_dot(diagram: FlowDiagram, style: PlotStyle) -> str:
    """The DOT source of ``diagram`` drawn in ``style``.

    Raises:
        GraphvizMissing: the ``graphviz`` Python package is not installed.
    """
    graphviz = _graphviz()
    graph = graphviz.Digraph(name=diagram.flow)
    graph.attr("graph", label=_label(graphviz, f"flow {diagram.flow}"), **style.attrs("graph"))
    for node in diagram.nodes:
        attrs = style.attrs(node.kind)
        attrs["id"] = node.id
        graph.node(node.id, label=_label(graphviz, node.label), **attrs)
    for edge in diagram.edges:
        graph.edge(edge.source, edge.target, **style.attrs(edge.kind))
    source: str = graph.source
    return source


def dot_to_image(source: str, fmt: str) -> bytes:
    """Draw DOT ``source`` as ``fmt`` (one of :data:`IMAGE_FORMATS`) with the ``dot`` program.

    Raises:
        ValueError: ``fmt`` is not an image format.
        GraphvizMissing: ``dot`` is not on ``PATH`` (the message says how to install it).
        PlotError: ``dot`` failed (its error output is in the message).
    """
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"not an image format: {fmt!r} (expected one of {IMAGE_FORMATS})")
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing(_MISSING_DOT.format(fmt=fmt))
    try:
        done = subprocess.run(
            [program, f"-T{fmt}"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=_DOT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PlotError(f"graphviz 'dot' ({program}) could not draw the diagram: {exc}") from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()
        raise PlotError(f"graphviz 'dot' failed (exit {done.returncode}): {detail}")
    return done.stdout
