"""Former home of :mod:`selinon_core.dispatch.state`; kept so that old imports keep working."""

import selinon_core.dispatch.state as _moved
from selinon_core.dispatch.state import *  # noqa: F403

__all__ = _moved.__all__
