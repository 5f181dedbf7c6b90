"""Fixtures of the loader tests: the stand-in user modules and the fixture directories."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DOCS = FIXTURES / "docs"


@pytest.fixture(autouse=True)
def user_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the stand-in user modules of ``tests/fixtures/pymods`` importable."""
    monkeypatch.syspath_prepend(str(FIXTURES / "pymods"))
