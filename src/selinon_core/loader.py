"""Former home of :mod:`selinon_core.config.loader`; kept so that old imports keep working."""

import selinon_core.config.loader as _moved
from selinon_core.config.loader import *  # noqa: F403

__all__ = _moved.__all__
