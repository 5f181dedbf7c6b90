"""``import selinon`` resolves to this project when Selinon itself is not installed."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import selinon_backends.storage.pool
import selinon_core.predicates
from selinon_backends import selinon_alias
from selinon_backends.selinon_alias import (
    CELERY_SHIM_NAMES,
    disable_selinon_alias,
    ensure_selinon_alias,
    install_as_selinon,
    uninstall_selinon_alias,
)
from selinon_core.datastorage import DataStorage
from selinon_core.errors import FatalTaskError
from selinon_core.task import SelinonTask

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def alias() -> Iterator[None]:
    assert install_as_selinon()
    yield
    uninstall_selinon_alias()


def test_the_names_task_code_imports(alias: None) -> None:
    selinon = importlib.import_module("selinon")
    assert selinon.SelinonTask is SelinonTask
    assert selinon.FatalTaskError is FatalTaskError
    assert selinon.DataStorage is DataStorage
    assert selinon.StoragePool is selinon_backends.storage.pool.StoragePool
    assert selinon.Dispatcher is importlib.import_module("selinon_core").Dispatcher


def test_submodules_are_our_modules_not_copies(alias: None) -> None:
    assert importlib.import_module("selinon.predicates") is selinon_core.predicates
    redis = importlib.import_module("selinon.storages.redis")
    assert redis is importlib.import_module("selinon_backends.storage.redis")


def test_star_import_of_predicates(alias: None) -> None:
    namespace: dict[str, object] = {}
    exec("from selinon.predicates import *", namespace)
    assert namespace["fieldEqual"] is selinon_core.predicates.fieldEqual
    assert namespace["httpStatus"] is selinon_core.predicates.httpStatus


@pytest.mark.parametrize("name", CELERY_SHIM_NAMES)
def test_celery_names_come_from_the_shim_or_say_so(alias: None, name: str) -> None:
    namespace: dict[str, object] = {}
    try:
        shim = importlib.import_module("selinon_backends.celery")
    except ModuleNotFoundError:
        shim = None
    if shim is not None and hasattr(shim, name):
        exec(f"from selinon import {name}", namespace)
        assert namespace[name] is getattr(shim, name)
        return
    with pytest.raises(ImportError, match="Celery compatibility shim"):
        exec(f"from selinon import {name}", namespace)


def test_unknown_names_fail_as_usual(alias: None) -> None:
    with pytest.raises(ImportError, match="cannot import name 'Nope'"):
        exec("from selinon import Nope", {})


def test_install_is_idempotent_and_uninstall_forgets(alias: None) -> None:
    assert install_as_selinon()
    finders = [f for f in sys.meta_path if type(f).__name__ == "_SelinonFinder"]
    assert len(finders) == 1
    importlib.import_module("selinon.predicates")
    uninstall_selinon_alias()
    assert "selinon" not in sys.modules
    assert "selinon.predicates" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("selinon")
    assert install_as_selinon()  # for the fixture's own uninstall


def test_a_real_selinon_package_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "selinon"
    package.mkdir()
    (package / "__init__.py").write_text("REAL = True\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    uninstall_selinon_alias()  # an engine built by an earlier test may have installed it
    try:
        assert install_as_selinon() is False
        assert importlib.import_module("selinon").REAL is True
    finally:
        sys.modules.pop("selinon", None)


def test_installing_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from selinon_backends.selinon_alias import install_as_selinon\n"
        "assert install_as_selinon()\n"
        "heavy = [m for m in ('pydantic', 'ruamel.yaml', 'selinon_core.config', 'redis') "
        "if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""


def test_disable_keeps_the_runtimes_from_installing_it() -> None:
    try:
        disable_selinon_alias()
        assert ensure_selinon_alias() is False
        assert "selinon" not in sys.modules
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("selinon")
        assert install_as_selinon()  # an explicit call still installs it
    finally:
        uninstall_selinon_alias()
        selinon_alias._automatic["enabled"] = True


def test_engine_installs_it_for_task_modules() -> None:
    uninstall_selinon_alias()
    from selinon_backends.runtime.engine import Engine
    from selinon_core.config.system import System

    system = System.from_dict({"tasks": [], "flows": {}})
    Engine(system)
    assert importlib.import_module("selinon").SelinonTask is SelinonTask
    uninstall_selinon_alias()
