"""Helpers for the command-line tests: run ``selinon-cli`` in-process and capture its output."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from selinon_backends.cli import main

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART_NODES = "examples/quickstart/nodes.yaml"
QUICKSTART_FLOWS = "examples/quickstart/flows.yaml"


@dataclass(frozen=True)
class Result:
    """What one command line run produced."""

    code: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run ``selinon-cli <args>`` in-process from the repository root.

    ``--app-dir`` changes ``sys.path`` for the rest of the process; it is restored after the
    test, so a test that forgets ``--app-dir examples`` fails instead of relying on another.
    """
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "path", list(sys.path))

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@dataclass(frozen=True)
class Files:
    """Writes configuration files under a temporary directory."""

    root: Path

    def write(self, name: str, text: str) -> str:
        """Write ``text`` to ``root/name`` (creating parents); return the path as a string."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return str(path)

    @staticmethod
    def line_of(path: str, needle: str) -> int:
        """1-based number of the first line of ``path`` containing ``needle``."""
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if needle in line:
                return number
        raise AssertionError(f"{needle!r} not in {path}")


@pytest.fixture
def files(tmp_path: Path) -> Files:
    """A writer of configuration files in a fresh temporary directory."""
    return Files(tmp_path)
