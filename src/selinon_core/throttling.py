"""Former home of :mod:`selinon_core.dispatch.throttling`; kept so that old imports keep working."""

import selinon_core.dispatch.throttling as _moved
from selinon_core.dispatch.throttling import *  # noqa: F403

__all__ = _moved.__all__
