"""Former home of :mod:`selinon_core.dispatch.retry`; kept so that old imports keep working."""

import selinon_core.dispatch.retry as _moved
from selinon_core.dispatch.retry import *  # noqa: F403

__all__ = _moved.__all__
