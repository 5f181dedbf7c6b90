"""``{ENV_VAR}`` expansion of a built-in adapter's configuration, when the adapter is built.

The loader leaves a storage's ``configuration`` as written (see
:mod:`selinon_core.config.envexpand`).  A built-in adapter expands the keys Selinon's adapter
of the same name expanded, from ``os.environ``, when the storage pool builds it for its first
connection; a variable that is still missing then fails that connection with a clear error.
"""

from __future__ import annotations

import os
from typing import Any

from selinon_core.config.envexpand import ExpansionError, expand_fields
from selinon_core.errors import Problem, SpecError

__all__ = ["expand_settings"]


def expand_settings(owner: str, **values: Any) -> dict[str, Any]:
    """``values`` with every string expanded from ``os.environ``.

    Raises:
        SpecError: a variable is not set (naming ``owner``, the key and the variables).
    """
    try:
        return expand_fields(owner, values, tuple(values), os.environ)
    except ExpansionError as exc:
        raise SpecError(
            Problem(str(exc), hint="set the variable in the environment the storage runs in")
        ) from exc
