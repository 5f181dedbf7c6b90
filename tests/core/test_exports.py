"""The public names of selinon_core (DESIGN §9) stay importable from the package root."""

from __future__ import annotations

import selinon_core


def test_all_names_are_importable() -> None:
    missing = [name for name in selinon_core.__all__ if not hasattr(selinon_core, name)]
    assert missing == []


def test_selinon_user_names_are_exported() -> None:
    for name in ("SelinonTask", "FatalTaskError", "DataStorage"):
        assert name in selinon_core.__all__


def test_all_is_sorted_and_unique() -> None:
    assert list(selinon_core.__all__) == sorted(set(selinon_core.__all__))
