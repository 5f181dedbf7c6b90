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
    assert "selinon_core.spec" in core_modules()


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
