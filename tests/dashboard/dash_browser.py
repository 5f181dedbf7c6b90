"""A headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium, and a
deployment of the distributed runtime with the dashboard in its own process.

Used by ``test_browser.py`` and ``docs/gen_screenshots.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dash_support import HERE, write_config
from tests.services import stop_processes

ROOT = HERE.parents[1]
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"


def find_chromium() -> tuple[str, str] | None:
    """Paths of the browser and its driver, or ``None`` when either is missing."""
    browser = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    driver = shutil.which(DRIVER)
    if browser is None or driver is None:
        return None
    return browser, driver


@contextmanager
def chrome(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium session (closed on exit).

    Raises:
        RuntimeError: Chromium or its driver is not installed.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_chromium()
    if found is None:
        raise RuntimeError("install Debian's chromium and chromium-driver")
    browser, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def cli(*args: str) -> list[str]:
    """The command line of ``selinon-cli ARGS`` with this interpreter."""
    return [
        sys.executable,
        "-c",
        "from selinon_backends.cli import main; raise SystemExit(main())",
        *args,
    ]


class Deployment:
    """A worker process and a dashboard process on one broker and state store.

    Flows go to private queues (``dash-<random>``), so parallel runs do not share messages.
    """

    def __init__(self, tmp: Path, broker: str, store: str, port: int) -> None:
        self.tmp = tmp
        self.broker, self.store, self.port = broker, store, port
        self.queue = f"dash-{uuid.uuid4().hex[:10]}"
        self.nodes, self.flows = write_config(tmp, queue=self.queue)
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)])}
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """The dashboard's address."""
        return f"http://127.0.0.1:{self.port}"

    def _start(self, name: str, command: list[str]) -> None:
        log = (self.tmp / f"{name}.log").open("wb")
        self.processes.append(
            subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        )

    def start(self) -> None:
        """Start the worker and the dashboard; wait (bounded) until the dashboard answers."""
        config = ["-n", str(self.nodes), "-f", str(self.flows)]
        self._start(
            "worker",
            cli(
                "worker",
                *config,
                "--broker",
                self.broker,
                "--state-store",
                self.store,
                "--concurrency",
                "2",
            ),
        )
        self._start(
            "dashboard",
            cli("dashboard", *config, "--state-store", self.store, "--port", str(self.port)),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                raise RuntimeError(f"a process of the deployment ended:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the dashboard did not answer within 30 s:\n{self.logs()}")

    def client(self) -> Any:
        """A client that starts flows of the deployment."""
        from selinon_backends.kombu import Client
        from selinon_core.config.loader import load_system

        system = load_system(self.nodes, [self.flows], check_imports=False)
        return Client(system, broker=self.broker, state_store=self.store)

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after 10 s)."""
        stop_processes(self.processes)

    def logs(self) -> str:
        """What the processes wrote."""
        return "\n".join(
            path.read_text(errors="replace") for path in sorted(self.tmp.glob("*.log"))
        )


@contextmanager
def deployment(tmp: Path, broker: str, store: str, port: int) -> Iterator[Deployment]:
    """A started :class:`Deployment`, stopped on exit."""
    dep = Deployment(tmp, broker, store, port)
    try:
        dep.start()
        yield dep
    finally:
        dep.stop()
