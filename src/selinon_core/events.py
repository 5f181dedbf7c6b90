"""Former home of :mod:`selinon_core.dispatch.events`; kept so that old imports keep working."""

import selinon_core.dispatch.events as _moved
from selinon_core.dispatch.events import *  # noqa: F403

__all__ = _moved.__all__
