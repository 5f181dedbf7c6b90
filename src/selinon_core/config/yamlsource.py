"""YAML parsing that remembers where every value came from.

The loader works on plain Python data (dicts, lists, scalars) so that environment expansion and
pydantic validation stay simple.  While converting ruamel.yaml's round-trip nodes to plain data,
:class:`SourceMap` records the file, line and column of every mapping key and every value under
a *path* (a tuple of keys and list indices), so that any problem found later can point back to
the exact spot in the YAML text.

The reader never opens anything but the files it is given; directory walks are sorted so that
the order of flow definitions (and thus of reported problems) is stable.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from selinon_core.errors import Problem, SpecError

__all__ = [
    "Anchor",
    "Loc",
    "Path_",
    "SourceMap",
    "YamlDocument",
    "expand_flow_paths",
    "parse_text",
    "read_text",
]

Path_: TypeAlias = tuple[str | int, ...]
"""A path into parsed data: mapping keys and list indices."""

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class Loc:
    """A position in a file; ``line`` and ``column`` are 1-based."""

    file: str | None
    line: int | None = None
    column: int | None = None


@dataclass
class SourceMap:
    """Locations of the values and keys of one or more parsed documents, by path.

    ``links`` maps the path of an alias to the path where its anchor's value was read, so that
    a problem inside a shared value is located in the anchor's text, whichever path reaches it.
    """

    values: dict[Path_, Loc] = field(default_factory=dict)
    keys: dict[Path_, Loc] = field(default_factory=dict)
    links: dict[Path_, Path_] = field(default_factory=dict)

    def value(self, path: Path_) -> Loc:
        """Location of the value at ``path``, or of the nearest enclosing value that is known."""
        for candidate in self._through_links(path):
            found = self.values.get(candidate)
            if found is not None:
                return found
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Loc(None)

    def key(self, path: Path_) -> Loc:
        """Location of the mapping key that ends ``path`` (falls back to the value location)."""
        for candidate in self._through_links(path):
            found = self.keys.get(candidate)
            if found is not None:
                return found
        return self.value(path)

    def _through_links(self, path: Path_) -> Iterator[Path_]:
        """``path``, then the same place reached through the anchors of the aliases it crosses."""
        yield path
        for _ in range(_MAX_LINKS):
            rewritten = self._rewrite(path)
            if rewritten is None:
                return
            path = rewritten
            yield path

    def _rewrite(self, path: Path_) -> Path_ | None:
        if not self.links:
            return None
        for end in range(len(path), 0, -1):
            target = self.links.get(path[:end])
            if target is not None and end < len(path):
                return (*target, *path[end:])
        return None


_MAX_LINKS = 16
"""How many aliases a location look-up follows (aliases inside aliases inside ...)."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """A YAML anchor (``&name``) whose value is shared by every alias (``*name``) to it."""

    name: str
    loc: Loc


@dataclass(frozen=True)
class YamlDocument:
    """One YAML document as plain data, with its locations recorded under ``prefix``.

    Attributes:
        data: the document as plain dicts, lists and scalars.  An aliased mapping or list is
            one shared object (as in PyYAML), so a document is a DAG, never copied per alias.
        file: the file it came from.
        locations: where each path's key and value are; paths through an alias are located
            at the alias.
        anchors: the anchor of each shared mapping or list, by ``id()`` of the plain object.
    """

    data: Any
    file: str
    locations: SourceMap
    anchors: dict[int, Anchor] = field(default_factory=dict)


def read_text(path: str | os.PathLike[str]) -> str:
    """Read a configuration file as UTF-8.

    Raises:
        SpecError: the file is missing, unreadable or not UTF-8.
    """
    name = os.fspath(path)
    try:
        return Path(name).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SpecError(Problem("file not found", name, hint="check the path")) from exc
    except IsADirectoryError as exc:
        raise SpecError(
            Problem("expected a file, found a directory", name, hint="pass a YAML file")
        ) from exc
    except UnicodeDecodeError as exc:
        raise SpecError(Problem(f"file is not valid UTF-8 ({exc.reason})", name)) from exc
    except OSError as exc:
        raise SpecError(Problem(f"cannot read file: {exc.strerror or exc}", name)) from exc


def expand_flow_paths(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Expand directories into their ``*.yaml``/``*.yml`` files, recursively and sorted.

    Files and directories whose name starts with a dot are skipped inside directories; paths
    given explicitly are kept as they are (a missing one is reported when it is read).
    """
    found: list[str] = []
    for entry in paths:
        name = os.fspath(entry)
        if os.path.isdir(name):
            found.extend(_walk(Path(name)))
        else:
            found.append(name)
    return found


def _walk(root: Path) -> Iterator[str]:
    for child in sorted(root.iterdir(), key=lambda p: p.name):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            yield from _walk(child)
        elif child.suffix in YAML_SUFFIXES:
            yield str(child)


def parse_text(text: str, file: str) -> tuple[list[YamlDocument], list[Problem]]:
    """Parse every YAML document of ``text``.

    A key repeated in one mapping keeps its last value, as PyYAML (and so Selinon) does, with a
    warning naming both lines.

    Returns:
        the documents (empty ones skipped) and the parser's warnings as problems.

    Raises:
        SpecError: the text is not well-formed YAML (with the line and column of the error).
    """
    too_deep = _flow_nesting_problem(text, file)
    if too_deep is not None:
        raise SpecError(too_deep)
    yaml = YAML(typ="rt")
    yaml.Constructor = _LastKeyWins
    yaml.allow_duplicate_keys = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw_docs = list(yaml.load_all(text))
        except MarkedYAMLError as exc:
            raise SpecError(_marked_problem(exc, file)) from exc
        except YAMLError as exc:
            raise SpecError(Problem(f"invalid YAML: {exc}", file)) from exc
        except (ValueError, TypeError, RecursionError) as exc:
            raise SpecError(Problem(f"invalid YAML: {exc}", file)) from exc
    problems = [Problem(f"YAML: {w.message}", file) for w in caught]
    constructor = yaml.constructor
    if isinstance(constructor, _LastKeyWins):
        problems.extend(constructor.repeated_keys(file))
    documents: list[YamlDocument] = []
    for raw in raw_docs:
        if raw is None:
            continue
        locations = SourceMap()
        converter = _Converter(file, locations)
        try:
            data = converter.convert(raw, (), _node_loc(raw, file))
        except RecursionError as exc:
            raise SpecError(Problem("the YAML is nested too deeply", file)) from exc
        if converter.problems:
            raise SpecError(converter.problems)
        documents.append(YamlDocument(data, file, locations, converter.anchors))
    return documents, problems


MAX_FLOW_NESTING = 200
"""The deepest ``[``/``{`` nesting accepted.  The YAML scanner's work grows with the square of
the nesting depth (seconds at a few hundred levels); real configurations nest a handful."""

_FLOW_CHARS = re.compile(r"""[\[\]{}'"#\n]""")
_QUOTE_START = frozenset(" \t[{,:-?\n")


def _flow_nesting_problem(text: str, file: str) -> Problem | None:
    """A problem if ``[``/``{`` nest deeper than :data:`MAX_FLOW_NESTING` (a linear scan).

    Quoted scalars and comments are skipped; a bracket inside a plain scalar may be counted,
    which only matters for texts that are already near the limit.
    """
    depth = 0
    line = 1
    pos = 0
    while (match := _FLOW_CHARS.search(text, pos)) is not None:
        char, pos = match.group(), match.end()
        if char == "\n":
            line += 1
        elif char == "#":
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
        elif char in "'\"":
            if match.start() == 0 or text[match.start() - 1] in _QUOTE_START:
                pos = _after_quoted(text, pos, char)
                line += text.count("\n", match.end(), pos)
        elif char in "[{":
            depth += 1
            if depth > MAX_FLOW_NESTING:
                column = match.start() - text.rfind("\n", 0, match.start())
                return Problem(
                    "invalid YAML: nested too deeply "
                    f"('[' and '{{' deeper than {MAX_FLOW_NESTING} levels)",
                    file,
                    line,
                    column,
                )
        else:
            depth = max(0, depth - 1)
    return None


def _after_quoted(text: str, pos: int, quote: str) -> int:
    """The position after the quoted scalar whose opening quote ends at ``pos``."""
    while True:
        end = text.find(quote, pos)
        if end < 0:
            return len(text)
        if quote == "'" and text.startswith("''", end):
            pos = end + 2
            continue
        if quote == '"' and _escaped(text, end):
            pos = end + 1
            continue
        return end + 1


def _escaped(text: str, index: int) -> bool:
    backslashes = 0
    while index - backslashes - 1 >= 0 and text[index - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


class _LastKeyWins(RoundTripConstructor):
    """ruamel's round-trip constructor, but a repeated mapping key keeps its *last* value."""

    def check_mapping_key(
        self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any
    ) -> bool:
        """Accept a new key; for a repeated one, store the later value and remember both lines."""
        if key not in mapping:
            return True
        if not isinstance(mapping, CommentedMap):
            mapping[key] = value
            return False
        first = mapping.lc.data.get(key)
        found: list[tuple[str, int | None, int]] = getattr(self, "_repeated", [])
        self._repeated = found
        found.append(
            (str(key), None if first is None else first[0] + 1, key_node.start_mark.line + 1)
        )
        value_node = next((v for k, v in node.value if k is key_node), key_node)
        mapping[key] = value
        mapping._yaml_set_kv_line_col(
            key,
            [
                key_node.start_mark.line,
                key_node.start_mark.column,
                value_node.start_mark.line,
                value_node.start_mark.column,
            ],
        )
        return False

    def repeated_keys(self, file: str) -> list[Problem]:
        """One warning per repeated key seen so far."""
        problems: list[Problem] = []
        for key, first, last in getattr(self, "_repeated", []):
            where = f"line {first}" if first is not None else "an earlier line"
            problems.append(
                Problem(
                    f"key {key!r} is repeated in one mapping ({where} and line {last}); "
                    f"the value of line {last} is used",
                    file,
                    last,
                    hint="remove one of them",
                )
            )
        return problems


def _marked_problem(exc: MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    message = " ".join(str(part) for part in (exc.context, exc.problem) if part) or str(exc)
    if mark is None:
        return Problem(f"invalid YAML: {message}", file)
    return Problem(f"invalid YAML: {message}", file, mark.line + 1, mark.column + 1)


def _node_loc(node: Any, file: str) -> Loc:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return Loc(file, 1, 1)
    return Loc(file, lc.line + 1, (lc.col or 0) + 1)


class _Converter:
    """Turn ruamel round-trip nodes into plain data while filling a :class:`SourceMap`.

    Each ruamel mapping or list is converted once: an alias yields the object converted for
    its anchor, so the work is linear in the size of the text however many aliases there are.
    """

    def __init__(self, file: str, locations: SourceMap) -> None:
        self.file = file
        self.locations = locations
        self.problems: list[Problem] = []
        self.anchors: dict[int, Anchor] = {}
        self._active: set[int] = set()
        self._done: dict[int, Any] = {}
        self._paths: dict[int, Path_] = {}

    def convert(self, node: Any, path: Path_, loc: Loc) -> Any:
        self.locations.values.setdefault(path, loc)
        if not isinstance(node, CommentedMap | CommentedSeq):
            return _scalar(node)
        done = self._done.get(id(node), _MISSING)
        if done is not _MISSING:
            first = self._paths.get(id(node))
            if first is not None and first != path:
                self.locations.links.setdefault(path, first)
            return done
        if id(node) in self._active:
            self.problems.append(
                Problem("an alias refers to its own anchor", loc.file, loc.line, loc.column)
            )
            return None
        self._active.add(id(node))
        self._paths.setdefault(id(node), path)
        try:
            if isinstance(node, CommentedMap):
                result: Any = self._mapping(node, path, loc)
            else:
                result = self._sequence(node, path, loc)
        finally:
            self._active.discard(id(node))
        self._done[id(node)] = result
        anchor = getattr(getattr(node, "anchor", None), "value", None)
        if isinstance(anchor, str):
            self.anchors[id(result)] = Anchor(anchor, loc)
        return result

    def _mapping(self, node: CommentedMap, path: Path_, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in node.items():
            name = key if isinstance(key, str) else str(_scalar(key))
            key_loc = self._pos(node.lc.key, key, loc)
            self.locations.keys.setdefault((*path, name), key_loc)
            value_loc = self._pos(node.lc.value, key, key_loc)
            result[name] = self.convert(value, (*path, name), value_loc)
        return result

    def _sequence(self, node: CommentedSeq, path: Path_, loc: Loc) -> list[Any]:
        return [
            self.convert(item, (*path, index), self._pos(node.lc.item, index, loc))
            for index, item in enumerate(node)
        ]

    def _pos(self, getter: Any, key: Any, default: Loc) -> Loc:
        try:
            line, column = getter(key)
        except (KeyError, IndexError, TypeError):
            return default
        return Loc(self.file, line + 1, column + 1)


_MISSING = object()


def _scalar(value: Any) -> Any:
    """Plain Python value of a ruamel scalar (ScalarInt, ScalarFloat, tagged strings, ...)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, CommentedMap | CommentedSeq):  # a complex mapping key
        return repr(value)
    tagged = getattr(value, "value", None)
    if tagged is not None and hasattr(value, "tag"):
        return _scalar(tagged)
    return value
