"""The sans-IO boundary: ``selinon_core`` never imports the shell or an I/O library.

Two independent checks:

* a static one, parsing every module of ``src/selinon_core`` with :mod:`ast` (imports inside
  functions count too, as do ``importlib.import_module("...")`` calls with a literal name);
* a dynamic one, importing every ``selinon_core`` module in a fresh interpreter and comparing
  ``sys.modules`` with a baseline taken after importing the libraries the core may use.  The
  baseline matters: ``networkx`` reads entry points through ``importlib.metadata``, which pulls
  in ``email`` and with it the stdlib ``socket`` module, without the core doing anything.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "src" / "selinon_core"

FORBIDDEN = frozenset(
    {
        "selinon_backends",
        "kombu",
        "celery",
        "redis",
        "psycopg",
        "aioboto3",
        "boto3",
        "botocore",
        "structlog",
        "requests",
        "socket",
        "asyncio",
        "typer",
        "rich",
        "sentry_sdk",
        "urllib.request",
        "http.client",
    }
)
"""Modules (and their sub-modules) the core must not import."""

ALLOWED_LIBRARIES = ("pydantic", "ruamel.yaml", "fastjsonschema", "networkx", "importlib.metadata")
"""Third-party (and stdlib) modules the core may use; the dynamic check's baseline."""


def forbidden_name(module: str) -> str | None:
    """The entry of FORBIDDEN that ``module`` is, or is a sub-module of."""
    for name in FORBIDDEN:
        if module == name or module.startswith(name + "."):
            return name
    return None


def imported_modules(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Every absolute module name ``tree`` imports, with its line number."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if forbidden_name(node.module):
                yield node.module, node.lineno
            else:  # ``from urllib import request`` imports ``urllib.request``
                for alias in node.names:
                    yield f"{node.module}.{alias.name}", node.lineno
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield first.value, node.lineno


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in {"__import__", "import_module"}
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def violations(source: str, filename: str) -> list[str]:
    """Forbidden imports in one module's source, as ``file:line: module``."""
    tree = ast.parse(source, filename=filename)
    return [
        f"{filename}:{line}: imports {module!r}"
        for module, line in imported_modules(tree)
        if forbidden_name(module)
    ]


def core_modules() -> list[str]:
    """Dotted names of every module of the core package."""
    names = []
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(CORE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def test_core_package_found() -> None:
    assert "selinon_core" in core_modules()
    assert "selinon_core.config.spec" in core_modules()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import redis", ["m.py:1: imports 'redis'"]),
        ("import os\nimport kombu.messaging", ["m.py:2: imports 'kombu.messaging'"]),
        ("from selinon_backends.cli import app", ["m.py:1: imports 'selinon_backends.cli'"]),
        ("from urllib import request", ["m.py:1: imports 'urllib.request'"]),
        ("def f():\n    import asyncio", ["m.py:2: imports 'asyncio'"]),
        ("import importlib\nimportlib.import_module('celery')", ["m.py:2: imports 'celery'"]),
        ("from http.client import HTTPConnection", ["m.py:1: imports 'http.client'"]),
        ("import urllib.parse\nimport json\nfrom . import spec", []),
        ("import redistools\nimport richtext", []),
        ("import importlib\nimportlib.import_module(name)", []),
    ],
)
def test_violations_detects_forbidden_imports(source: str, expected: list[str]) -> None:
    assert violations(source, "m.py") == expected


def test_core_sources_import_no_io_library() -> None:
    found = [
        problem
        for path in sorted(CORE.rglob("*.py"))
        for problem in violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert found == []


_PROBE = textwrap.dedent(
    """
    import importlib, json, sys
    allowed, modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    for name in allowed:
        importlib.import_module(name)
    baseline = set(sys.modules)
    failed = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = repr(exc)
    print(json.dumps({"new": sorted(set(sys.modules) - baseline), "failed": failed}))
    """
)


def test_importing_core_loads_no_io_library() -> None:
    modules = core_modules()
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(ALLOWED_LIBRARIES), json.dumps(modules)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=ROOT,
    )
    report = json.loads(proc.stdout)
    assert report["failed"] == {}
    loaded = sorted({name for name in report["new"] if forbidden_name(name)})
    assert loaded == []
    assert set(modules) <= set(report["new"]) | {"selinon_core"}


# --------------------------------------------------------------------------- layers

BASE = frozenset({"errors", "trace", "ports", "_fieldpath"})
"""Leaf modules every layer may use."""

SHIMS = frozenset(
    {
        "spec",
        "loader",
        "system",
        "graph",
        "conditions",
        "language_schema",
        "dispatcher",
        "events",
        "actions",
        "state",
        "delta",
        "retry",
        "throttling",
        "selective",
    }
)
"""Old flat module paths kept as re-exports of their new homes (nothing imports them inside)."""


def layer_of(module: str) -> str:
    """The layer of a ``selinon_core`` or ``selinon_backends`` module.

    ``base`` < ``config`` < ``dispatch`` < ``api`` (the task author's modules, ``testing`` and
    the package itself) < ``shell`` (``selinon_backends``); ``shim`` is an old import path.
    """
    parts = module.split(".")
    if parts[0] == "selinon_backends":
        return "shell"
    if len(parts) == 1:
        return "api"
    if parts[1] in ("config", "dispatch"):
        return parts[1]
    if parts[1] in BASE:
        return "base"
    if parts[1] in SHIMS:
        return "shim"
    return "api"


RANK = {"base": 0, "config": 1, "dispatch": 2, "api": 3, "shell": 4}


def layer_violations(module: str, source: str) -> list[str]:
    """Imports of ``module`` that point up the layers, or at an old (shim) path."""
    here = layer_of(module)
    if here == "shim":
        return []
    found = []
    for target, line in imported_modules(ast.parse(source)):
        if not target.startswith(("selinon_core", "selinon_backends")):
            continue
        # ``from selinon_core.config import spec`` names the module ``...config.spec``.
        there = layer_of(target)
        if there == "shim" or RANK[there] > RANK[here]:
            found.append(f"{module}:{line}: {here} imports {target} ({there})")
    return found


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("selinon_core.config.spec", "from selinon_core.errors import SpecError", 0),
        ("selinon_core.config.spec", "from selinon_core.dispatch.state import FlowState", 1),
        ("selinon_core.dispatch.edges", "from selinon_core.config.system import System", 0),
        ("selinon_core.dispatch.edges", "from selinon_core.task import SelinonTask", 1),
        ("selinon_core.errors", "from selinon_core.config import spec", 1),
        ("selinon_core.dispatch.edges", "from selinon_core.spec import TaskSpec", 1),
        ("selinon_core.testing", "from selinon_core.dispatch import Dispatcher", 0),
        ("selinon_core.testing", "import selinon_backends.runtime", 1),
        ("selinon_backends.runtime.engine", "from selinon_core.dispatch import Step", 0),
    ],
)
def test_layer_violations_detects_upward_imports(module: str, source: str, expected: int) -> None:
    assert len(layer_violations(module, source)) == expected


def _modules_of(package: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def test_imports_point_down_the_layers() -> None:
    """config -> dispatch -> api -> shell, with no arrow back and no use of the old paths."""
    found = [
        problem
        for package in (CORE, ROOT / "src" / "selinon_backends")
        for module, path in _modules_of(package)
        for problem in layer_violations(module, path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_every_flat_module_is_a_shim_or_a_known_module() -> None:
    """A new module lands in its layer's package, not in the flat top level by accident."""
    flat = {p.stem for p in CORE.glob("*.py")} - {"__init__"}
    api = {"task", "datastorage", "caching", "predicates", "routines", "strategies", "testing"}
    assert flat == SHIMS | BASE | api


@pytest.mark.parametrize("name", sorted(SHIMS))
def test_old_import_paths_reexport_the_moved_names(name: str) -> None:
    old = importlib.import_module(f"selinon_core.{name}")
    assert old.__all__
    for public in old.__all__:
        assert getattr(old, public) is not None
    new = next(
        importlib.import_module(f"selinon_core.{pkg}.{name}")
        for pkg in ("config", "dispatch")
        if (CORE / pkg / f"{name}.py").exists()
    )
    shared = set(old.__all__) & set(getattr(new, "__all__", ()))
    assert shared, name
    for public in shared:
        assert getattr(old, public) is getattr(new, public)


# --------------------------------------------------------------------------- effects, once

EVENT_CLASSES = frozenset(
    {"FlowRequested", "NodeSucceeded", "NodeFailed", "SubflowFinished", "SubflowFailed", "TimerDue"}
)
EVENT_FACTORIES = {
    # module: event classes it may construct (and why)
    "selinon_core.dispatch.effects": EVENT_CLASSES,  # the one translation
    "selinon_core.dispatch.wire": EVENT_CLASSES,  # decoding
    "selinon_core.dispatch.events": EVENT_CLASSES,  # the definitions
    "selinon_backends.runtime.engine": {"FlowRequested"},  # the top-level request of a run
    "selinon_core.testing": {"FlowRequested"},  # the top-level request of a simulation
    # the top-level request of a distributed client (Kombu's and the Celery shim's)
    "selinon_backends.distributed.requests": {"FlowRequested"},
    # the safety net rebuilds events a stalled flow lost, from the stores (not from actions)
    "selinon_backends.distributed.safety": EVENT_CLASSES - {"TimerDue"},
}


def event_constructions(source: str) -> Iterator[tuple[str, int]]:
    """Calls of an event class by name (``NodeSucceeded(...)``), with their line numbers."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in EVENT_CLASSES:
                yield name, node.lineno


def test_event_constructions_are_found() -> None:
    source = "a = NodeSucceeded(f, n, t)\nb = events.TimerDue(f, i, t)\nc = RunTask()"
    assert list(event_constructions(source)) == [("NodeSucceeded", 1), ("TimerDue", 2)]


def test_actions_and_outcomes_become_events_only_in_effects() -> None:
    """The translation (action or task outcome -> next event) is written once: ``effects``."""
    found = [
        f"{module}:{line}: builds {name}"
        for package in (CORE, ROOT / "src" / "selinon_backends")
        for module, path in _modules_of(package)
        for name, line in event_constructions(path.read_text(encoding="utf-8"))
        if name not in EVENT_FACTORIES.get(module, ())
    ]
    assert found == []
