"""``import selinon`` for user modules written for Selinon, when Selinon itself is not installed.

Predicate, foreach, trace and task modules written for Selinon import from it
(``from selinon import SelinonTask, FatalTaskError``, ``from selinon.predicates import *``).
:func:`install_as_selinon` adds an import hook that makes those imports resolve to this
project, so such modules load unchanged:

* ``selinon`` is a small package module whose names are looked up on first use:
  ``SelinonTask``, ``FatalTaskError``, ``DataStorage``, ``StoragePool`` and every public name of
  :mod:`selinon_core`.  ``Config``, ``run_flow`` and ``run_flow_selective`` come from the Celery
  shim (``selinon_backends.celery``, imported on first use; without Celery installed they raise
  an ``ImportError`` that names the ``celery`` extra).
* ``selinon.predicates``, ``selinon.errors``, ``selinon.storages.redis``, ... are our modules of
  the same role (see :data:`SUBMODULES`), imported when first asked for.

Nothing happens when a real ``selinon`` package is importable: it wins.  Installing is cheap
(no import of the engine, pydantic or a client library) and idempotent;
:func:`uninstall_selinon_alias` undoes it.

``selinon-cli`` (every command) and the runtimes' task workers call :func:`ensure_selinon_alias`,
which installs the alias unless :func:`disable_selinon_alias` was called
(``selinon-cli --no-selinon-alias``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "CELERY_SHIM_NAMES",
    "SUBMODULES",
    "disable_selinon_alias",
    "ensure_selinon_alias",
    "install_as_selinon",
    "uninstall_selinon_alias",
]

SUBMODULES: Mapping[str, str] = {
    "selinon.predicates": "selinon_core.predicates",
    "selinon.errors": "selinon_core.errors",
    "selinon.strategies": "selinon_core.strategies",
    "selinon.routines": "selinon_core.routines",
    "selinon.data_storage": "selinon_core.datastorage",
    "selinon.selinon_task": "selinon_core.task",
    "selinon.caches": "selinon_backends.caches",
    "selinon.storage_pool": "selinon_backends.storage.pool",
    "selinon.storages": "selinon_backends.storage",
    "selinon.storages.memory": "selinon_backends.storage.memory",
    "selinon.storages.redis": "selinon_backends.storage.redis",
    "selinon.storages.postgresql": "selinon_backends.storage.postgresql",
    "selinon.storages.s3": "selinon_backends.storage.s3",
    "selinon.storages.filesystem": "selinon_backends.storage.filesystem",
}
"""Selinon's module paths and the module of ours each one resolves to."""

_TOP_LEVEL: Mapping[str, str] = {
    "SelinonTask": "selinon_core.task",
    "FatalTaskError": "selinon_core.errors",
    "DataStorage": "selinon_core.datastorage",
    "StoragePool": "selinon_backends.storage.pool",
}

CELERY_SHIM_NAMES: tuple[str, ...] = (
    "Config",
    "ConfigNotInitializedError",
    "run_flow",
    "run_flow_selective",
)
"""Names of ``selinon`` that come with the Celery shim (``selinon_backends.celery``)."""

_CELERY_SHIM = "selinon_backends.celery"

_automatic = {"enabled": True}
"""Whether :func:`ensure_selinon_alias` installs the alias (off after ``--no-selinon-alias``)."""


def ensure_selinon_alias() -> bool:
    """Install the alias unless it was turned off; returns whether it is in place."""
    if not _automatic["enabled"]:
        return False
    return install_as_selinon()


def disable_selinon_alias() -> None:
    """Remove the alias and keep :func:`ensure_selinon_alias` from installing it again."""
    _automatic["enabled"] = False
    uninstall_selinon_alias()


def install_as_selinon() -> bool:
    """Make ``import selinon`` (and its submodules) resolve to this project.

    An explicit call installs it even after :func:`disable_selinon_alias`.

    Returns:
        ``True`` when the alias is in place (now or already), ``False`` when a real
        ``selinon`` package is importable and was left alone.
    """
    if any(isinstance(finder, _SelinonFinder) for finder in sys.meta_path):
        return True
    existing = sys.modules.get("selinon")
    if existing is not None:
        return bool(getattr(existing, "__selinon_alias__", False))
    if importlib.util.find_spec("selinon") is not None:
        return False
    sys.meta_path.insert(0, _SelinonFinder())  # before the path finder: no second copies
    return True


def uninstall_selinon_alias() -> None:
    """Remove the import hook and forget the ``selinon`` modules it provided."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _SelinonFinder)]
    package = sys.modules.get("selinon")
    if package is not None and getattr(package, "__selinon_alias__", False):
        del sys.modules["selinon"]
    for name, ours in SUBMODULES.items():
        if name in sys.modules and sys.modules[name] is sys.modules.get(ours):
            del sys.modules[name]


class _SelinonFinder(importlib.abc.MetaPathFinder):
    """Finds ``selinon`` and the submodules listed in :data:`SUBMODULES`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec for the alias package or one of its submodules; ``None`` for other names."""
        del path, target
        if fullname == "selinon":
            return importlib.machinery.ModuleSpec(fullname, _PackageLoader(), is_package=True)
        if fullname in SUBMODULES:
            return importlib.machinery.ModuleSpec(fullname, _ExistingModuleLoader())
        return None


class _PackageLoader(importlib.abc.Loader):
    """Builds the ``selinon`` package module: names resolved on first use."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        """A fresh package module for ``selinon``."""
        module = types.ModuleType(spec.name, "Selinon's names, provided by selinon_core.")
        module.__path__ = []
        module.__getattr__ = _package_getattr  # type: ignore[method-assign]
        module.__selinon_alias__ = True  # type: ignore[attr-defined]
        module.__all__ = list(_TOP_LEVEL)  # type: ignore[attr-defined]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: every name is looked up on first use."""
        del module


class _ExistingModuleLoader(importlib.abc.Loader):
    """Hands out our module itself for one of Selinon's module paths."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        """Our module of the same role (the same object, so its state is shared)."""
        return importlib.import_module(SUBMODULES[spec.name])

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module is already imported."""
        del module


def _package_getattr(name: str) -> Any:
    """``selinon.<name>``: one of Selinon's top-level names, looked up on first use."""
    if name in CELERY_SHIM_NAMES:
        return _from_celery_shim(name)
    module_name = _TOP_LEVEL.get(name)
    if module_name is not None:
        return getattr(importlib.import_module(module_name), name)
    if not name.startswith("_"):
        core = importlib.import_module("selinon_core")
        if name in getattr(core, "__all__", ()):
            return getattr(core, name)
    raise AttributeError(f"module 'selinon' (provided by selinon_core) has no attribute {name!r}")


def _from_celery_shim(name: str) -> Any:
    try:
        shim = importlib.import_module(_CELERY_SHIM)
    except ModuleNotFoundError as exc:
        if exc.name not in (_CELERY_SHIM, "celery"):
            raise
        shim = None
    if shim is not None and hasattr(shim, name):
        return getattr(shim, name)
    raise ImportError(
        f"selinon.{name} comes with the Celery compatibility shim ({_CELERY_SHIM}), which "
        "needs Celery: pip install 'selinon-ng[celery]'; without Celery, run flows with "
        "selinon-cli or selinon_backends.runtime.Engine",
        name="selinon",
    )
