"""Former home of :mod:`selinon_core.config.graph`; kept so that old imports keep working."""

import selinon_core.config.graph as _moved
from selinon_core.config.graph import *  # noqa: F403

__all__ = _moved.__all__
