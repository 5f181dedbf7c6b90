"""Former home of :mod:`selinon_core.config.language_schema`; kept for old imports."""

import selinon_core.config.language_schema as _moved
from selinon_core.config.language_schema import *  # noqa: F403

__all__ = _moved.__all__
