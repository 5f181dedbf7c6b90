"""Configuration: YAML text to an immutable :class:`~selinon_core.config.system.System`.

The model (``spec``), the loader and its validators, the flow graphs and the compiled
conditions.  Nothing here knows about running flows: ``selinon_core.dispatch`` builds on this
package, never the other way round.
"""

from selinon_core.config.loader import load_system, load_system_from_texts
from selinon_core.config.system import System

__all__ = ["System", "load_system", "load_system_from_texts"]
