"""Former home of :mod:`selinon_core.dispatch.delta`; kept so that old imports keep working."""

import selinon_core.dispatch.delta as _moved
from selinon_core.dispatch.delta import *  # noqa: F403

__all__ = _moved.__all__
