"""Former home of :mod:`selinon_core.config.system`; kept so that old imports keep working."""

import selinon_core.config.system as _moved
from selinon_core.config.system import *  # noqa: F403

__all__ = _moved.__all__
