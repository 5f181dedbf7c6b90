"""Errors of the diagram package.

::

    SelinonError
    └── PlotError                 a diagram cannot be drawn
        ├── StyleError            a style file is unreadable or names an unknown key
        └── GraphvizMissing       svg/png/pdf asked for, but graphviz is not installed

An unknown flow name raises :class:`selinon_core.errors.UnknownFlowError`, as everywhere else.
"""

from __future__ import annotations

from selinon_core.errors import SelinonError

__all__ = ["GraphvizMissing", "PlotError", "StyleError"]


class PlotError(SelinonError):
    """A diagram cannot be drawn (base class)."""


class StyleError(PlotError):
    """A style file cannot be read, is not YAML, or holds an unknown or malformed key."""


class GraphvizMissing(PlotError):
    """The graphviz ``dot`` program (or the ``graphviz`` Python package) is not installed."""
