"""Former home of :mod:`selinon_core.dispatch.dispatcher`; kept so that old imports keep working."""

import selinon_core.dispatch.dispatcher as _moved
from selinon_core.dispatch.dispatcher import *  # noqa: F403

__all__ = _moved.__all__
