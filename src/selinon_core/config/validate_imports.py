"""Resolution of the user code a configuration names (``import`` + ``classname``/``name``/...).

Every reference is imported once and reported with its YAML location when the module or the
attribute is missing.  With ``check_imports=False`` user modules are not imported at all (for
inspecting configurations on a machine without the user's code); Selinon's own paths
(``selinon.predicates``, ``selinon.caches``, ...) map to our built-ins and are still checked.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from selinon_core.config.spec import CacheSpec, GlobalSpec
from selinon_core.config.system import SELINON_MODULE_ALIASES, canonical_module
from selinon_core.config.validate_common import Reporter, did_you_mean
from selinon_core.config.validate_conditions import PredicateTable
from selinon_core.config.validate_nodes import Pieces
from selinon_core.config.yamlsource import Path_
from selinon_core.errors import describe_error

__all__ = ["Reference", "check_references", "predicate_table", "references"]


@dataclass(frozen=True)
class Reference:
    """A user callable named in the configuration.

    Attributes:
        path: where it is named (the mapping holding ``import``).
        module: the module, as written (Selinon paths allowed).
        name: the attribute.
        what: what it is, for messages ("task class", "foreach function", ...).
        key: the YAML key holding the attribute name.
        kwargs: the keyword arguments it will be constructed with (storages and caches), to
            check against its signature; ``None`` when not applicable.
    """

    path: Path_
    module: str
    name: str
    what: str
    key: str
    kwargs: Any = None


def _cache_refs(cache: CacheSpec, path: Path_) -> Reference:
    return Reference(
        (*path, "cache"), cache.import_, cache.name, "cache class", "name", cache.configuration
    )


def references(pieces: Pieces) -> Iterator[Reference]:
    """Every user callable that ``pieces`` names, with its location."""
    for i, task in pieces.tasks:
        path: Path_ = ("tasks", i)
        yield Reference(path, task.import_, task.classname, "task class", "classname")
        run = task.selective_run_function
        yield Reference(
            (*path, "selective_run_function"),
            run.import_,
            run.name,
            "selective run function",
            "name",
        )
    for i, storage in pieces.storages:
        path = ("storages", i)
        yield Reference(
            path,
            storage.import_,
            storage.classname,
            "storage class",
            "classname",
            storage.configuration,
        )
        yield _cache_refs(storage.cache, path)
    for i, flow in pieces.flows:
        path = ("flow-definitions", i)
        yield _cache_refs(flow.cache, path)
        if flow.sampling is not None:
            sampling = flow.sampling
            yield Reference(
                (*path, "sampling"), sampling.import_, sampling.name, "sampling strategy", "name"
            )
        for j, edge in enumerate(flow.edges):
            if edge.foreach is not None:
                yield Reference(
                    (*path, "edges", j, "foreach"),
                    edge.foreach.import_,
                    edge.foreach.function,
                    "foreach function",
                    "function",
                )
    for k, sink in enumerate(pieces.global_.trace):
        if sink.function is not None:
            fn = sink.function
            yield Reference(
                ("global", "trace", k, "function"), fn.import_, fn.name, "trace function", "name"
            )


def _is_selinon(module: str) -> bool:
    return module == "selinon" or module.startswith("selinon.")


class _Importer:
    """Imports modules once; decides which ones are checked."""

    def __init__(self, check_imports: bool) -> None:
        self.check_imports = check_imports
        self.modules: dict[str, ModuleType | str | None] = {}

    def module(self, module: str) -> ModuleType | str | None:
        """The module, an error message, or ``None`` when it is not to be checked."""
        if module not in self.modules:
            self.modules[module] = self._load(module)
        return self.modules[module]

    def _load(self, module: str) -> ModuleType | str | None:
        if _is_selinon(module):
            if module not in SELINON_MODULE_ALIASES:
                known = ", ".join(sorted(SELINON_MODULE_ALIASES))
                return f"Selinon module {module!r} is not supported here (supported: {known})"
            target = canonical_module(module)
            try:
                if importlib.util.find_spec(target) is None:
                    return None  # our counterpart is not installed in this build
            except ImportError:
                return None
        elif not self.check_imports:
            return None
        try:
            return importlib.import_module(canonical_module(module))
        except Exception as exc:  # user code may raise anything on import
            return f"cannot import module {module!r}: {describe_error(exc)}"


def check_references(pieces: Pieces, check_imports: bool, rep: Reporter) -> list[Reference]:
    """Import every referenced callable; report failures; return the references that resolved."""
    importer = _Importer(check_imports)
    resolved: list[Reference] = []
    storage_classes: dict[int, Any] = {}
    for ref in references(pieces):
        found = _resolve(importer, ref, rep)
        if found is None:
            continue
        resolved.append(ref)
        if ref.what == "sampling strategy":
            _check_sampling(found, ref, pieces, rep)
        if isinstance(ref.kwargs, dict):
            _check_kwargs(found, ref, rep)
        if ref.what == "storage class" and isinstance(ref.path[1], int):
            storage_classes[ref.path[1]] = found
    _check_trace_methods(pieces, storage_classes, rep)
    return resolved


def _resolve(importer: _Importer, ref: Reference, rep: Reporter) -> Any:
    module = importer.module(ref.module)
    if module is None:
        return None
    if isinstance(module, str):
        hint = None if module.startswith("Selinon") else "check that the module is importable"
        rep.error((*ref.path, "import"), module, hint)
        return None
    found = getattr(module, ref.name, None)
    if found is None:
        public = [n for n in dir(module) if not n.startswith("_")]
        rep.error(
            (*ref.path, ref.key),
            f"{ref.what} {ref.name!r} not found in module {ref.module!r}",
            did_you_mean(ref.name, public),
        )
        return None
    if not callable(found):
        rep.error((*ref.path, ref.key), f"{ref.what} {ref.name!r} is not callable")
        return None
    return found


def _check_kwargs(target: Any, ref: Reference, rep: Reporter) -> None:
    """Check a storage's or cache's ``configuration`` mapping against its constructor."""
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    named = {n for n, p in params.items() if p.kind in kinds}
    required = {n for n in named if params[n].default is inspect.Parameter.empty}
    given = set(ref.kwargs)
    path = (*ref.path, "configuration")
    for name in sorted(required - given):
        rep.error(path, f"{ref.what} {ref.name!r} needs configuration key {name!r}")
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for name in sorted(given - named):
        hint = did_you_mean(name, named) or (
            f"it accepts {', '.join(sorted(named))}" if named else "it accepts no keys"
        )
        rep.error((*path, name), f"{ref.what} {ref.name!r} has no configuration key {name!r}", hint)


def _check_trace_methods(pieces: Pieces, classes: dict[int, Any], rep: Reporter) -> None:
    by_name = {s.name: classes[i] for i, s in pieces.storages if i in classes}
    for k, sink in enumerate(pieces.global_.trace):
        if sink.storage is None or sink.storage.name not in by_name:
            continue
        if not callable(getattr(by_name[sink.storage.name], sink.storage.method, None)):
            rep.warn(
                ("global", "trace", k, "storage", "method"),
                f"storage {sink.storage.name!r} has no method {sink.storage.method!r}; "
                "trace events sent to it will fail",
            )


def _check_sampling(fn: Any, ref: Reference, pieces: Pieces, rep: Reporter) -> None:
    flow_index = ref.path[1]
    flow = next(f for i, f in pieces.flows if i == flow_index)
    assert flow.sampling is not None
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    given = set(flow.sampling.args)
    any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = {n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
    required = {n for n, p in params.items() if p.default is inspect.Parameter.empty} & named
    path = (*ref.path, "args")
    if "status" in given:
        rep.error(path, "sampling 'args' cannot give 'status', the dispatcher passes it")
    for name in sorted(required - given - {"status"}):
        rep.error(path, f"sampling strategy {ref.name!r} needs argument {name!r}")
    if not any_keyword:
        for name in sorted(given - named):
            rep.error(
                (*path, name),
                f"sampling strategy {ref.name!r} has no argument {name!r}",
                did_you_mean(name, named - {"status"}),
            )


def predicate_table(global_: GlobalSpec, check_imports: bool, rep: Reporter) -> PredicateTable:
    """The predicates of the configured module, or an unchecked table when it is not imported."""
    module_name = global_.predicates_module
    module = _Importer(check_imports).module(module_name)
    if isinstance(module, str):
        rep.error(("global", "predicates_module"), module)
    if not isinstance(module, ModuleType):
        return PredicateTable(module_name, None)
    functions: dict[str, Callable[..., Any]] = {
        name: obj
        for name, obj in vars(module).items()
        if not name.startswith("_") and callable(obj) and not isinstance(obj, type)
    }
    return PredicateTable(module_name, functions)
