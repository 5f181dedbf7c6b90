"""Load a configuration from YAML: files or texts in, a validated :class:`System` out.

Theory of operation: every file is parsed with ruamel.yaml into plain data plus a
:class:`~selinon_core.config.yamlsource.SourceMap`; the documents are *assembled* into one mapping
(``tasks``, ``flows``, ``storages`` and ``global`` from the nodes file, ``flow-definitions``
from every file, in order) whose source map still points into the original files;
``{ENV_VAR}`` references are expanded; then :func:`selinon_core.config.validate.validate` checks
everything and reports all problems at once as a :class:`SpecError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from selinon_core.config.aliases import check_alias_budget
from selinon_core.config.envexpand import check_storage_env, expand_config
from selinon_core.config.system import System, canonical_module
from selinon_core.config.validate import validate
from selinon_core.config.validate_common import Reporter, did_you_mean
from selinon_core.config.yamlsource import (
    Anchor,
    Loc,
    Path_,
    SourceMap,
    YamlDocument,
    expand_flow_paths,
    parse_text,
    read_text,
)
from selinon_core.errors import Problem, SpecError

__all__ = ["load_system", "load_system_from_texts"]

NODES_KEYS = ("tasks", "flows", "storages", "global")
FLOWS_KEY = "flow-definitions"


def load_system(
    nodes: str | os.PathLike[str],
    flows: Sequence[str | os.PathLike[str]] = (),
    *,
    check_imports: bool = True,
    environ: Mapping[str, str] | None = None,
) -> System:
    """Load and validate a configuration from files.

    Args:
        nodes: the nodes file (``tasks``, ``flows``, ``storages``, ``global``); it may also hold
            ``flow-definitions``.
        flows: flow files or directories; directories contribute every ``*.yaml``/``*.yml``
            file below them, sorted, skipping dot-files and dot-directories (and the nodes
            file itself).
        check_imports: import the user's task, storage and other modules to check them.
        environ: variables for ``{NAME}`` expansion; ``os.environ`` when ``None``.

    Returns:
        the validated System, with ``sources`` set to the files read.

    Raises:
        SpecError: the files cannot be read or the configuration is invalid; ``problems``
            lists every error found.
    """
    nodes_name = os.fspath(nodes)
    if isinstance(flows, str | os.PathLike):  # a single path given where a list is expected
        flows = [flows]
    names = [nodes_name]
    seen = {_identity(nodes_name)}
    for name in expand_flow_paths(flows):
        if _identity(name) not in seen:
            seen.add(_identity(name))
            names.append(name)
    texts: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for name in names:
        try:
            texts.append((name, read_text(name)))
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    return _load(texts[0], texts[1:], check_imports=check_imports, environ=environ)


def load_system_from_texts(
    nodes_text: str,
    flow_texts: Sequence[str] = (),
    *,
    check_imports: bool = True,
    environ: Mapping[str, str] | None = None,
) -> System:
    """Load and validate a configuration given as YAML texts (named ``<nodes>``, ``<flows-N>``).

    Same rules as :func:`load_system`; ``System.sources`` is empty.

    Raises:
        SpecError: the configuration is invalid; ``problems`` lists every error found.
    """
    if isinstance(flow_texts, str):  # a single text given where a list is expected
        flow_texts = [flow_texts]
    flows = [(f"<flows-{i + 1}>", text) for i, text in enumerate(flow_texts)]
    return _load(
        ("<nodes>", nodes_text), flows, check_imports=check_imports, environ=environ, files=False
    )


def _identity(name: str) -> str:
    try:
        return str(Path(name).resolve())
    except (OSError, RuntimeError):
        return name


def _load(
    nodes: tuple[str, str],
    flows: Sequence[tuple[str, str]],
    *,
    check_imports: bool,
    environ: Mapping[str, str] | None,
    files: bool = True,
) -> System:
    order = {name: i for i, (name, _) in enumerate([nodes, *flows])}
    assembly = _Assembly(nodes[0])
    parse_errors: list[Problem] = []
    for name, text in [nodes, *flows]:
        try:
            documents, yaml_warnings = parse_text(text, name)
        except SpecError as exc:
            parse_errors.extend(exc.problems)
            continue
        assembly.rep.warnings.extend(yaml_warnings)
        for document in documents:
            if name == nodes[0]:
                assembly.add_nodes(document)
            else:
                assembly.add_flows(document)
    if parse_errors:
        raise SpecError(_sorted(parse_errors, order))
    too_big = check_alias_budget(assembly.data, assembly.anchors)
    if too_big is not None:
        raise SpecError(too_big)
    rep = assembly.rep
    env = os.environ if environ is None else environ
    expand_config(assembly.data, env, rep.error)
    check_storage_env(assembly.data, env, rep.warn, canonical_module)
    try:
        outcome = validate(assembly.data, assembly.locations, check_imports=check_imports)
    except RecursionError as exc:
        raise SpecError(Problem("the configuration is nested too deeply", nodes[0])) from exc
    errors = [*rep.errors, *outcome.errors]
    if errors or outcome.spec is None:
        raise SpecError(_sorted(errors, order))
    system = System(
        spec=outcome.spec,
        warnings=tuple(_sorted([*rep.warnings, *outcome.warnings], order)),
        sources=tuple(name for name, _ in [nodes, *flows]) if files else (),
    )
    for ref in outcome.references:
        system.resolve(ref.module, ref.name)
    return system


def _sorted(problems: list[Problem], order: Mapping[str, int]) -> list[Problem]:
    def key(p: Problem) -> tuple[int, int, int]:
        return (order.get(p.file or "", len(order)), p.line or 0, p.column or 0)

    return sorted(problems, key=key)


class _Assembly:
    """Gathers the documents of all files into one mapping with a combined source map."""

    def __init__(self, nodes_file: str) -> None:
        self.nodes_file = nodes_file
        self.data: dict[str, Any] = {FLOWS_KEY: []}
        self.locations = SourceMap()
        self.locations.values[()] = Loc(nodes_file, 1, 1)
        self.rep = Reporter(self.locations, self.data)
        self.anchors: dict[int, Anchor] = {}

    def add_nodes(self, document: YamlDocument) -> None:
        self.anchors.update(document.anchors)
        data = document.data
        if not isinstance(data, dict):
            self._error(document, (), "the nodes file must be a mapping with 'tasks' and 'flows'")
            return
        rules: dict[Path_, Path_] = {}
        for key, value in data.items():
            if key in NODES_KEYS:
                if key in self.data:
                    self._error(document, (key,), f"{key!r} is defined twice", key=True)
                    continue
                self.data[key] = value
                rules[(key,)] = (key,)
            elif key == FLOWS_KEY:
                rules.update(self._flow_list(document, (key,), value))
            else:
                self._warn(document, (key,), f"unknown top-level key {key!r} is ignored", key=key)
        self._remap(document, rules)
        self.locations.values[()] = document.locations.value(())

    def add_flows(self, document: YamlDocument) -> None:
        self.anchors.update(document.anchors)
        data = document.data
        rules: dict[Path_, Path_] = {}
        if isinstance(data, list):
            for j, item in enumerate(data):
                rules.update(self._flow_mapping(document, (j,), item))
        else:
            rules.update(self._flow_mapping(document, (), data))
        self._remap(document, rules)

    def _flow_mapping(self, document: YamlDocument, prefix: Path_, data: Any) -> dict[Path_, Path_]:
        if not isinstance(data, dict) or FLOWS_KEY not in data:
            self._error(document, prefix, f"a flow file must be a mapping with {FLOWS_KEY!r}")
            return {}
        for key in data:
            if key in NODES_KEYS:
                message = f"{key!r} is ignored in a flow file (only the nodes file defines it)"
                self._warn(document, (*prefix, key), message)
            elif key != FLOWS_KEY:
                self._warn(
                    document, (*prefix, key), f"unknown top-level key {key!r} is ignored", key=key
                )
        return self._flow_list(document, (*prefix, FLOWS_KEY), data[FLOWS_KEY])

    def _flow_list(self, document: YamlDocument, prefix: Path_, value: Any) -> dict[Path_, Path_]:
        if not isinstance(value, list):
            self._error(document, prefix, f"{FLOWS_KEY!r} must be a list of flow definitions")
            return {}
        rules: dict[Path_, Path_] = {}
        target: list[Any] = self.data[FLOWS_KEY]
        for i, entry in enumerate(value):
            rules[(*prefix, i)] = (FLOWS_KEY, len(target))
            target.append(entry)
        return rules

    def _remap(self, document: YamlDocument, rules: dict[Path_, Path_]) -> None:
        lengths = sorted({len(prefix) for prefix in rules}, reverse=True)

        def mapped(path: Path_) -> Path_ | None:
            for n in lengths:
                target = rules.get(path[:n])
                if target is not None:
                    return (*target, *path[n:])
            return None

        for source, target in (
            (document.locations.values, self.locations.values),
            (document.locations.keys, self.locations.keys),
        ):
            for path, loc in source.items():
                new = mapped(path)
                if new is not None:
                    target[new] = loc
        for alias, anchor in document.locations.links.items():
            new_alias, new_anchor = mapped(alias), mapped(anchor)
            if new_alias is not None and new_anchor is not None:
                self.locations.links[new_alias] = new_anchor

    def _problem(
        self, document: YamlDocument, path: Path_, message: str, hint: str | None, *, key: bool
    ) -> Problem:
        loc = document.locations.key(path) if key else document.locations.value(path)
        return Problem(message, loc.file, loc.line, loc.column, hint)

    def _error(
        self, document: YamlDocument, path: Path_, message: str, *, key: bool = False
    ) -> None:
        self.rep.errors.append(self._problem(document, path, message, None, key=key))

    def _warn(
        self, document: YamlDocument, path: Path_, message: str, key: str | None = None
    ) -> None:
        hint = did_you_mean(key, (*NODES_KEYS, FLOWS_KEY)) if key is not None else None
        self.rep.warnings.append(self._problem(document, path, message, hint, key=True))
