"""Former home of :mod:`selinon_core.dispatch.actions`; kept so that old imports keep working."""

import selinon_core.dispatch.actions as _moved
from selinon_core.dispatch.actions import *  # noqa: F403

__all__ = _moved.__all__
