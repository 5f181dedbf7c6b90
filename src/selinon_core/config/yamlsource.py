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
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from selinon_core.errors import Problem, SpecError

__all__ = [
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
    """Locations of the values and keys of one or more parsed documents, by path."""

    values: dict[Path_, Loc] = field(default_factory=dict)
    keys: dict[Path_, Loc] = field(default_factory=dict)

    def value(self, path: Path_) -> Loc:
        """Location of the value at ``path``, or of the nearest enclosing value that is known."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Loc(None)

    def key(self, path: Path_) -> Loc:
        """Location of the mapping key that ends ``path`` (falls back to the value location)."""
        found = self.keys.get(path)
        return found if found is not None else self.value(path)


@dataclass(frozen=True)
class YamlDocument:
    """One YAML document as plain data, with its locations recorded under ``prefix``."""

    data: Any
    file: str
    locations: SourceMap


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

    Returns:
        the documents (empty ones skipped) and the parser's warnings as problems.

    Raises:
        SpecError: the text is not well-formed YAML (with the line and column of the error).
    """
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
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
        documents.append(YamlDocument(data, file, locations))
    return documents, problems


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
    """Turn ruamel round-trip nodes into plain data while filling a :class:`SourceMap`."""

    def __init__(self, file: str, locations: SourceMap) -> None:
        self.file = file
        self.locations = locations
        self.problems: list[Problem] = []
        self._active: set[int] = set()

    def convert(self, node: Any, path: Path_, loc: Loc) -> Any:
        self.locations.values.setdefault(path, loc)
        if isinstance(node, CommentedMap | CommentedSeq):
            if id(node) in self._active:
                self.problems.append(
                    Problem("an alias refers to its own anchor", loc.file, loc.line, loc.column)
                )
                return None
            self._active.add(id(node))
            try:
                if isinstance(node, CommentedMap):
                    return self._mapping(node, path, loc)
                return self._sequence(node, path, loc)
            finally:
                self._active.discard(id(node))
        return _scalar(node)

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
