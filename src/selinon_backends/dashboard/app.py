"""The dashboard's Starlette application: the flows list, a flow's page, its live updates.

Routes::

    GET /                         flows: filter by status and name, find by id, pages
    GET /flows/{flow_id}          a flow: diagram, node table, links to sub-flows and parent
    GET /flows/{flow_id}/events   server-sent events: node and flow changes, at most 1/s
    GET /static/...               the stylesheet and the small script (package data)

Pages are plain HTML rendered by Jinja2 with autoescaping (a task result containing
``<script>`` shows as text); the script only adds live updates, and every page has a refresh
link, so the dashboard works without JavaScript.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from selinon_backends.dashboard.diagram import DiagramCache, colour_svg
from selinon_backends.dashboard.security import TokenGuard
from selinon_backends.dashboard.sources import FlowSource, StoreSource
from selinon_backends.dashboard.views import FINISHED, FlowView
from selinon_backends.state.listing import LIST_STATUSES
from selinon_core.errors import BackendError

if TYPE_CHECKING:
    from selinon_core.config.system import System

__all__ = ["DashboardSettings", "create_app"]

_HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
_TEXT_LIMIT = 20_000
_NONE = "\N{EN DASH}"


class DashboardSettings:
    """Tunables of one application.

    Args:
        update_interval: seconds between two checks of a flow for live updates (at least 1).
        stream_seconds: a live-update stream ends after this long (the browser reconnects).
        title: shown in the page header.
    """

    def __init__(
        self,
        *,
        update_interval: float = 1.0,
        stream_seconds: float = 600.0,
        title: str = "Selinon dashboard",
    ) -> None:
        self.update_interval = max(1.0, update_interval)
        self.stream_seconds = stream_seconds
        self.title = title


def _when(value: float | None) -> str:
    if value is None:
        return _NONE
    return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float | None) -> str:
    if value is None:
        return _NONE
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s"
    return f"{value / 60:.1f} min"


def _pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, default=repr, ensure_ascii=False, sort_keys=True)
    if len(text) > _TEXT_LIMIT:
        text = text[:_TEXT_LIMIT] + f"\n… ({len(text) - _TEXT_LIMIT} more characters)"
    return text


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(_HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["seconds"] = _seconds
    env.filters["pretty"] = _pretty
    return env


class _Pages:
    """The request handlers, over one source."""

    def __init__(
        self, source: FlowSource, diagrams: DiagramCache, settings: DashboardSettings
    ) -> None:
        self.source = source
        self.diagrams = diagrams
        self.settings = settings
        self.env = _environment()

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("title", self.settings.title)
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})

    def flows(self, request: Request) -> Response:
        params = request.query_params
        found_id = params.get("id", "").strip()
        if found_id and self.source.flow(found_id) is not None:
            return RedirectResponse(f"/flows/{quote(found_id, safe='')}", status_code=303)
        status = params.get("status") or None
        if status not in (None, *LIST_STATUSES):
            status = None
        name = params.get("name", "").strip() or None
        page = _int(params.get("page"), 1)
        page_data = self.source.list_flows(
            status=status, flow_name=name, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        counts = {
            label: self.source.count_flows(status=label, flow_name=name) for label in LIST_STATUSES
        }

        def link(**changes: Any) -> str:
            query = {"status": status or "", "name": name or "", "page": page, **changes}
            return "/?" + urlencode({k: v for k, v in query.items() if v not in ("", None, 1)})

        return self.render(
            "flows.html",
            page=page_data,
            page_number=page,
            status=status,
            name=name or "",
            counts=counts,
            statuses=LIST_STATUSES,
            link=link,
            missing_id=found_id or None,
            now=time.time(),
        )

    def flow(self, request: Request) -> Response:
        flow_id = request.path_params["flow_id"]
        view = self.source.flow(flow_id)
        if view is None:
            return self.render("missing.html", status_code=404, flow_id=flow_id)
        svg = self.diagrams.get(view.flow_name)
        diagram = Markup(colour_svg(svg, view.name_statuses())) if svg else None
        return self.render(
            "flow.html",
            flow=view,
            nodes=view.nodes,
            hidden=view.hidden,
            counts=view.counts(),
            diagram=diagram,
            finished=view.status in FINISHED,
        )

    async def events(self, request: Request) -> Response:
        flow_id = request.path_params["flow_id"]
        return StreamingResponse(
            self._stream(request, flow_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _stream(self, request: Request, flow_id: str) -> AsyncIterator[str]:
        """Every node once, then the changes, until the flow ends (bounded in time)."""
        seen: dict[str, tuple[str, int, bool, bool]] = {}
        last: Any = None
        deadline = time.monotonic() + self.settings.stream_seconds
        yield f"retry: {int(self.settings.update_interval * 2000)}\n\n"
        while True:
            view = await run_in_threadpool(self.source.flow, flow_id)
            if view is None:
                yield _event("gone", {"flow_id": flow_id})
                return
            for chunk in self._changes(view, seen):
                yield chunk
            head = _flow_event(view)
            if head != last:
                last = head
                yield _event("flow", head)
            if view.status in FINISHED:
                yield _event("end", {"status": view.status})
                return
            if time.monotonic() > deadline or await request.is_disconnected():
                return
            await anyio.sleep(self.settings.update_interval)

    def _changes(self, view: FlowView, seen: dict[str, tuple[str, int, bool, bool]]) -> list[str]:
        row = self.env.get_template("row.html")
        chunks = []
        for node in view.nodes:
            signature = node.signature()
            if seen.get(node.node_id) == signature:
                continue
            seen[node.node_id] = signature
            data = {
                "node_id": node.node_id,
                "node_name": node.node_name,
                "status": node.status,
                "html": row.render(node=node),
            }
            chunks.append(_event("node", data))
        return chunks


def _flow_event(view: FlowView) -> dict[str, Any]:
    return {
        "status": view.status,
        "counts": view.counts(),
        "names": view.name_statuses(),
        "duration": _seconds(view.duration),
    }


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=repr)}\n\n"


def _int(text: str | None, default: int) -> int:
    try:
        return max(1, int(text or default))
    except ValueError:
        return default


def create_app(
    system: System | None,
    backends: Any,
    *,
    token: str | None = None,
    settings: DashboardSettings | None = None,
) -> Starlette:
    """The dashboard application.

    Args:
        system: the loaded configuration (draws the flow diagrams; ``None``: no diagrams).
        backends: the stores of the distributed runtime
            (:class:`~selinon_backends.distributed.backends.Backends`), or any
            :class:`~selinon_backends.dashboard.sources.FlowSource` (``execute --dashboard``
            passes a :class:`~selinon_backends.dashboard.sources.LiveSource`).
        token: the secret every request must carry (see :mod:`.security`); ``None``: none.
        settings: tunables (update interval, stream length, title).

    Returns:
        An ASGI application (serve it with uvicorn).
    """
    source: FlowSource = (
        backends if callable(getattr(backends, "flow", None)) else StoreSource(backends)
    )
    pages = _Pages(source, DiagramCache(system), settings or DashboardSettings())

    def unavailable(request: Request, exc: Exception) -> Response:
        del request
        return pages.render("unavailable.html", status_code=503, message=str(exc))

    app = Starlette(
        exception_handlers={BackendError: unavailable},
        routes=[
            Route("/", pages.flows),
            Route("/flows/{flow_id}", pages.flow),
            Route("/flows/{flow_id}/events", pages.events),
            Mount("/static", app=StaticFiles(directory=str(_HERE / "static")), name="static"),
        ],
    )
    app.add_middleware(TokenGuard, token=token)
    return app
