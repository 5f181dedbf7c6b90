"""Diagram style: graphviz attributes per kind of diagram element, and the style file reader.

A style file is YAML.  It maps element kinds to graphviz attributes, either at the top level
(the form Selinon's documentation shows) or under one ``style:`` key (the form Selinon's code
reads)::

    task:                      # or, the same:   style:
      fillcolor: '#66cfa7'     #                   task:
    fallback_edge:             #                     fillcolor: '#66cfa7'
      color: red               #                   ...

Element kinds are :data:`ELEMENT_KINDS`; ``graph`` (attributes of the whole drawing, such as
``rankdir: LR``) is ours.  Given attributes replace the defaults of the same name one by one; a
``null`` value removes a default.  Two spellings from Selinon's documented example are
translated: ``arrowtype`` (not a graphviz attribute) to ``arrowhead``, and the misspelled
``color'`` to ``color``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from selinon_backends.plot.errors import StyleError

__all__ = ["DEFAULT_STYLE", "ELEMENT_KINDS", "PlotStyle", "load_style", "style_from_mapping"]

ELEMENT_KINDS: tuple[str, ...] = (
    "task",
    "flow",
    "condition",
    "condition_foreach",
    "storage",
    "edge",
    "store_edge",
    "fallback_edge",
    "fallback_true",
    "graph",
)
"""The keys a style file may hold (Selinon's nine, plus ``graph``)."""

_NESTED_KEY = "style"
_ATTRIBUTE_ALIASES: Mapping[str, str] = {"arrowtype": "arrowhead", "color'": "color"}

_Attrs = Mapping[str, str]


def _frozen(attrs: Mapping[str, str]) -> _Attrs:
    return MappingProxyType(dict(attrs))


_DEFAULTS: dict[str, _Attrs] = {
    "task": _frozen(
        {"style": "filled", "color": "black", "fillcolor": "#66cfa7", "shape": "ellipse"}
    ),
    "flow": _frozen(
        {"style": "filled", "color": "black", "fillcolor": "#197a9f", "shape": "box3d"}
    ),
    "condition": _frozen(
        {"style": "filled", "color": "gray", "fillcolor": "#e8e3c8", "shape": "octagon"}
    ),
    "condition_foreach": _frozen(
        {"style": "filled", "color": "gray", "fillcolor": "#e8e3c8", "shape": "doubleoctagon"}
    ),
    "storage": _frozen(
        {"style": "filled", "color": "black", "fillcolor": "#894830", "shape": "cylinder"}
    ),
    "edge": _frozen({"arrowhead": "open", "color": "black"}),
    "store_edge": _frozen({"arrowhead": "open", "color": "#894830", "style": "dashed"}),
    "fallback_edge": _frozen({"arrowhead": "open", "color": "#cc1010"}),
    "fallback_true": _frozen(
        {"style": "filled", "color": "black", "fillcolor": "#5af47b", "shape": "plain"}
    ),
    "graph": _frozen({"labelloc": "t"}),
}


@dataclass(frozen=True)
class PlotStyle:
    """Graphviz attributes for each element kind of a diagram (immutable).

    Attributes:
        kinds: attributes by element kind (every kind of :data:`ELEMENT_KINDS` is present).
        source: where the style came from (a file name, or ``<default>``).
    """

    kinds: Mapping[str, _Attrs] = field(default_factory=lambda: MappingProxyType(_DEFAULTS))
    source: str = "<default>"

    def attrs(self, kind: str) -> dict[str, str]:
        """A fresh copy of the attributes of element kind ``kind`` (``KeyError`` if unknown)."""
        return dict(self.kinds[kind])

    def merged(self, overrides: Mapping[str, Mapping[str, str | None]], source: str) -> PlotStyle:
        """This style with ``overrides`` applied attribute by attribute (``None`` removes one)."""
        kinds = {kind: dict(attrs) for kind, attrs in self.kinds.items()}
        for kind, attrs in overrides.items():
            for name, value in attrs.items():
                if value is None:
                    kinds[kind].pop(name, None)
                else:
                    kinds[kind][name] = value
        return PlotStyle(
            kinds=MappingProxyType({k: _frozen(v) for k, v in kinds.items()}), source=source
        )


DEFAULT_STYLE = PlotStyle()
"""The default look (Selinon's documented defaults, with ``arrowhead`` for ``arrowtype``)."""


def load_style(path: str | os.PathLike[str]) -> PlotStyle:
    """Read a style file (YAML, either form) over :data:`DEFAULT_STYLE`.

    Raises:
        StyleError: the file cannot be read, is not YAML, or holds an unknown element kind or
            an attribute value that is not a scalar; the message names the file and the key.
    """
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise StyleError(f"{name}: cannot read the style file: {exc.strerror or exc}") from exc
    return style_from_mapping(_parse_yaml(text, name), source=name)


def _parse_yaml(text: str, source: str) -> Any:
    from ruamel.yaml import YAML  # noqa: PLC0415 - only when a style file is given
    from ruamel.yaml.error import YAMLError  # noqa: PLC0415

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise StyleError(f"{source}: not valid YAML: {exc}") from exc


def style_from_mapping(data: Any, *, source: str = "<style>") -> PlotStyle:
    """Apply a parsed style document (either form) over :data:`DEFAULT_STYLE`.

    Args:
        data: the parsed YAML: ``None`` (an empty file), or a mapping of element kinds to
            attribute mappings, at the top level or under ``style:``.
        source: the file name used in error messages.

    Raises:
        StyleError: an unknown element kind, or a malformed value (see :func:`load_style`).
    """
    if data is None:
        return PlotStyle(source=source)
    if not isinstance(data, Mapping):
        raise StyleError(f"{source}: a style file must be a mapping of element kinds to attributes")
    prefix = ""
    if _NESTED_KEY in data:
        extra = sorted(str(key) for key in data if key != _NESTED_KEY)
        if extra:
            raise StyleError(
                f"{source}: {extra[0]!r}: give element kinds either at the top level or under "
                f"'style:', not both"
            )
        data = {} if data[_NESTED_KEY] is None else data[_NESTED_KEY]
        prefix = f"{_NESTED_KEY}."
        if not isinstance(data, Mapping):
            raise StyleError(f"{source}: 'style' must be a mapping of element kinds to attributes")
    overrides = {
        str(kind): _attributes(attrs, f"{source}: {prefix}{kind}")
        for kind, attrs in data.items()
        if _known_kind(kind, source, prefix)
    }
    return DEFAULT_STYLE.merged(overrides, source=source)


def _known_kind(kind: Any, source: str, prefix: str) -> bool:
    if kind in ELEMENT_KINDS:
        return True
    import difflib  # noqa: PLC0415

    close = difflib.get_close_matches(str(kind), ELEMENT_KINDS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise StyleError(
        f"{source}: unknown style key '{prefix}{kind}'{hint}; known keys: "
        f"{', '.join(ELEMENT_KINDS)}"
    )


def _attributes(attrs: Any, where: str) -> dict[str, str | None]:
    if attrs is None:
        return {}
    if not isinstance(attrs, Mapping):
        raise StyleError(f"{where}: expected a mapping of graphviz attributes, got {attrs!r}")
    found: dict[str, str | None] = {}
    for name, value in attrs.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            raise StyleError(
                f"{where}.{name}: a graphviz attribute value must be a string or a number, "
                f"got {value!r}"
            )
        key = _ATTRIBUTE_ALIASES.get(str(name), str(name))
        found[key] = _text(value)
    return found


def _text(value: str | float | bool | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
