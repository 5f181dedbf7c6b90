"""Former home of :mod:`selinon_core.config.conditions`; kept so that old imports keep working."""

import selinon_core.config.conditions as _moved
from selinon_core.config.conditions import *  # noqa: F403

__all__ = _moved.__all__
