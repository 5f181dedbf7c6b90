"""A read-only web dashboard of flows: ``selinon-cli dashboard`` and ``execute --dashboard``.

* :func:`create_app` builds the Starlette application (pages, live updates, token check);
* :mod:`.sources`: where flows are read from (the distributed runtime's stores, or an
  in-process run);
* :mod:`.server`: serving it with uvicorn (in the foreground, or in a thread beside a run).

Needs the ``dashboard`` extra (starlette, uvicorn, jinja2); see ``docs/dashboard.md``.
"""

from __future__ import annotations

from selinon_backends.dashboard.app import DashboardSettings, create_app
from selinon_backends.dashboard.sources import FlowSource, LiveSource, StoreSource

__all__ = ["DashboardSettings", "FlowSource", "LiveSource", "StoreSource", "create_app"]
