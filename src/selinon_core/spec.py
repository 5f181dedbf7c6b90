"""Former home of :mod:`selinon_core.config.spec`; kept so that old imports keep working."""

import selinon_core.config.spec as _moved
from selinon_core.config.spec import *  # noqa: F403

__all__ = _moved.__all__
