"""Fixtures shared by every test directory (keep this file small and generic).

Helpers for tests that need real services live in ``tests/services.py``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# Wall-clock deadlines make property tests flaky on a loaded 2-core CI machine; the suite
# bounds its run time with pytest-timeout instead.
settings.register_profile("selinon", deadline=None)
settings.load_profile("selinon")

_KEEP_PREFIX = "SELINON_TEST_"
"""Variables that configure the test suite itself (service URLs) are left alone."""


@pytest.fixture(autouse=True)
def _no_selinon_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide the developer's ``SELINON_*`` variables (e.g. ``SELINON_NODES_DEFINITION``).

    The CLI reads its options from such variables; tests set the ones they need with
    ``monkeypatch.setenv``.
    """
    for name in list(os.environ):
        if name.startswith("SELINON_") and not name.startswith(_KEEP_PREFIX):
            monkeypatch.delenv(name)
