"""Fixtures of the dashboard tests: the test configuration, flows run on Kombu in-process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

pytest.importorskip("starlette", reason="the dashboard extra is not installed")

from dash_support import kombu_run, make_system  # noqa: E402

from selinon_backends.distributed.backends import Backends  # noqa: E402
from selinon_backends.kombu import Client  # noqa: E402
from selinon_core.config.system import System  # noqa: E402


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> System:
    """The test configuration (flows ``shop`` and ``invoice``)."""
    return make_system(tmp_path_factory.mktemp("dash-config"))


@pytest.fixture(scope="module")
def kombu(system: System) -> Iterator[tuple[Client, Backends]]:
    """A Kombu worker and client on fresh ``memory://`` stores."""
    with kombu_run(system) as found:
        yield found
