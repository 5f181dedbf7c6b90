"""Regenerate the dashboard screenshots of ``docs/dashboard.md`` (``docs/images/dashboard-*.png``).

Runs the dinner example (``examples/dinner``) on the Kombu runtime in this process
(``memory://`` broker and stores): three dinners, one with a broken oven whose
``WarmUpOven`` task fails after a retry (a 5 s countdown, so the list is photographed while it
runs).  The dashboard is served on a free loopback port and photographed by a headless
Chromium (Debian's ``chromium`` and ``chromium-driver``; ``selenium`` from the dev
dependencies)::

    python docs/gen_screenshots.py
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "dashboard"), str(ROOT / "examples"), str(ROOT / "src")]

from dash_browser import chrome  # noqa: E402
from dash_support import kombu_run  # noqa: E402

from selinon_backends.dashboard import create_app  # noqa: E402
from selinon_backends.dashboard.server import BackgroundServer  # noqa: E402
from selinon_core.config.loader import load_system  # noqa: E402

IMAGES = ROOT / "docs" / "images"
DINNER = ROOT / "examples" / "dinner"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(seconds: float, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not done():
        time.sleep(0.05)


def main() -> int:
    """Run the dinners, serve the dashboard, write the two screenshots."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    system = load_system(DINNER / "nodes.yaml", [DINNER / "flows"])
    with kombu_run(system) as (client, backends):
        for args in ({"guests": 4, "romantic": True}, {"guests": 2}, {"guests": 3}):
            client.wait(client.run_flow("dinnerFlow", args), timeout=60)
        broken = client.run_flow("dinnerFlow", {"guests": 2, "oven_broken": True})
        server = BackgroundServer(
            create_app(system, backends), host="127.0.0.1", port=_free_port(), token=None
        )
        if not server.start():
            print("cannot start the dashboard", file=sys.stderr)
            return 1
        try:
            base = f"http://127.0.0.1:{server.port}"
            with chrome(1280, 900) as browser:
                browser.get(base + "/")
                browser.save_screenshot(str(IMAGES / "dashboard-flows.png"))
                client.wait(broken, timeout=60)
                browser.get(f"{base}/flows/{broken}.1")  # prepareFlow, failed
                browser.find_element("css selector", "details.traceback summary").click()
                _wait(5, lambda: browser.find_element("id", "flow-status").text == "failed")
                browser.execute_script("window.scrollTo(0, 0);")
                browser.save_screenshot(str(IMAGES / "dashboard-flow.png"))
        finally:
            server.stop()
    print(f"wrote {IMAGES / 'dashboard-flows.png'} and {IMAGES / 'dashboard-flow.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
