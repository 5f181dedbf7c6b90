"""``selinon-cli execute --dashboard``: the pages of an in-process run, served while it runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from dash_support import HERE, write_config
from tests.services import free_port


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_for(url: str, needle: str, process: subprocess.Popen[str], seconds: float) -> str:
    """The page at ``url`` once it contains ``needle`` (bounded; fails if the run ended)."""
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            status, text = _get(url)
        except OSError:  # not listening yet
            status = 0
        if status == 200 and needle in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not on {url} within {seconds}s: {text[:2000]}")


def test_execute_serves_the_run_while_it_runs(tmp_path: Path) -> None:
    nodes, flows = write_config(tmp_path)
    gate = tmp_path / "gate"
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable,
        "-m",
        "selinon_backends.cli",
        "execute",
        "-n",
        str(nodes),
        "-f",
        str(flows),
        "--flow-name",
        "shop",
        "--node-args",
        f'{{"gate": "{gate}", "fail": true}}',
        "--concurrency",
        "2",
        "--dashboard",
        "--dashboard-port",
        str(port),
        "--hide-progressbar",
    ]
    process = subprocess.Popen(
        command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        base = f"http://127.0.0.1:{port}"
        listing = _wait_for(f"{base}/", 'class="badge running"', process, 60)
        flow_id = re.search(r'class="flow-link" href="/flows/([^"]+)"', listing).group(1)  # type: ignore[union-attr]
        # Gate waits for its file: the page shows it running (it is "scheduled" a moment first)
        running = 'data-node-name="Gate" data-status="running"'
        assert running in _wait_for(f"{base}/flows/{flow_id}", running, process, 30)
        assert "too heavy to ship" in _wait_for(f"{base}/flows/{flow_id}", "too heavy", process, 30)
    finally:
        gate.touch()
        _out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err  # Ship failed, so the flow failed
    assert f"Dashboard of this run: http://127.0.0.1:{port}/" in err
    try:
        _get(f"http://127.0.0.1:{port}/")
    except OSError:
        pass  # stopped with the run
    else:
        raise AssertionError("the dashboard still answers after the run ended")
