"""The System: a loaded, validated configuration plus the user callables it names.

A ``System`` is immutable and built once (by :func:`selinon_core.config.loader.load_system` or, in
tests, :meth:`System.from_dict`), then passed explicitly to everything that needs it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from selinon_core.config.spec import SystemSpec
from selinon_core.errors import Problem, SpecError

__all__ = ["SELINON_MODULE_ALIASES", "System", "canonical_module"]

SELINON_MODULE_ALIASES: Mapping[str, str] = {
    "selinon.predicates": "selinon_core.predicates",
    "selinon.strategies": "selinon_core.strategies",
    "selinon.routines": "selinon_core.routines",
    "selinon.caches": "selinon_backends.caches",
    "selinon.storages": "selinon_backends.storage",
    "selinon.storages.memory": "selinon_backends.storage.memory",
    "selinon.storages.redis": "selinon_backends.storage.redis",
    "selinon.storages.postgresql": "selinon_backends.storage.postgresql",
    "selinon.storages.s3": "selinon_backends.storage.s3",
    "selinon.storages.filesystem": "selinon_backends.storage.filesystem",
}
"""Selinon's import paths that existing YAML names, mapped to our modules."""


def canonical_module(module: str) -> str:
    """Map a Selinon import path (``selinon.predicates``) to ours; other paths are unchanged."""
    return SELINON_MODULE_ALIASES.get(module, module)


@dataclass(frozen=True, eq=False)
class System:
    """A validated configuration.

    Attributes:
        spec: the normalised configuration model.
        warnings: non-fatal findings (unused task, unused storage, ...).
        sources: the files it was loaded from (empty when built from dicts).
    """

    spec: SystemSpec
    warnings: tuple[Problem, ...] = ()
    sources: tuple[str, ...] = ()
    _resolved: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> System:
        """Build a System from an already parsed mapping in ``SystemSpec`` shape (for tests).

        No cross-reference validation is done here; use the loader for user input.
        """
        try:
            return cls(spec=SystemSpec.model_validate(data))
        except ValueError as exc:
            raise SpecError(str(exc)) from exc

    def resolve(self, module: str, name: str) -> Any:
        """Import ``name`` from ``module`` (Selinon paths mapped to ours), once per process.

        Raises:
            SpecError: the module cannot be imported or has no such attribute.
        """
        key = (module, name)
        if key not in self._resolved:
            self._resolved[key] = _import_attribute(canonical_module(module), name)
        return self._resolved[key]

    def predicate(self, name: str) -> Callable[..., Any]:
        """The predicate called ``name`` in the configured predicates module."""
        found = self.resolve(self.spec.global_.predicates_module, name)
        if not callable(found):
            raise SpecError(f"predicate {name!r} is not callable")
        return found  # type: ignore[no-any-return]


def _import_attribute(module: str, name: str) -> Any:
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        raise SpecError(
            Problem(
                f"cannot import module {module!r}: {exc}",
                hint="check the 'import' value and that the module is on PYTHONPATH",
            )
        ) from exc
    try:
        return getattr(imported, name)
    except AttributeError as exc:
        raise SpecError(
            Problem(f"module {module!r} has no attribute {name!r}", hint="check the name")
        ) from exc
