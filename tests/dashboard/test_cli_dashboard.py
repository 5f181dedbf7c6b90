"""``selinon-cli dashboard``: refuses unsafe or incomplete start-ups, serves with a token."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from dash_browser import cli
from dash_support import write_config
from tests.services import free_port
from typer.testing import CliRunner

from selinon_backends.cli import app


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def config(tmp_path: Path) -> list[str]:
    nodes, flows = write_config(tmp_path)
    return ["-n", str(nodes), "-f", str(flows)]


def test_a_public_address_needs_a_token(config: list[str]) -> None:
    code, output = _invoke("dashboard", *config, "--state-store", "memory://x", "--host", "0.0.0.0")
    assert code == 2
    assert "without a token" in output
    assert "--token" in output


def test_an_empty_token_is_refused(config: list[str]) -> None:
    code, output = _invoke("dashboard", *config, "--state-store", "memory://x", "--token", " ")
    assert code == 2
    assert "token is empty" in output


def test_the_state_store_is_required(config: list[str]) -> None:
    code, output = _invoke("dashboard", *config)
    assert code == 2
    assert "--state-store" in output


def test_an_unsupported_state_store_is_refused(config: list[str]) -> None:
    code, output = _invoke("dashboard", *config, "--state-store", "mongodb://x")
    assert code == 2
    assert "unsupported state store" in output


def test_help_imports_no_web_framework() -> None:
    probe = (
        "import contextlib, io, json, sys\n"
        "from selinon_backends.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['dashboard', '--help'])\n"
        "print(json.dumps([m for m in ('starlette', 'uvicorn', 'jinja2') if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [], done.stderr


def _status(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_serves_with_a_token(config: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("SELINON_DASHBOARD_TOKEN", "letmein")
    command = cli("dashboard", *config, "--state-store", "memory://cli", "--port", str(port))
    import os

    process = subprocess.Popen(
        command, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = _status(url)
                break
            except OSError:
                time.sleep(0.1)
        assert status == 401, process.stderr.read() if process.poll() is not None else status
        assert _status(url, {"Authorization": "Bearer letmein"}) == 200
        assert _status(url + "?token=letmein") == 200
    finally:
        process.terminate()
        _, err = process.communicate(timeout=15)
    assert f"on http://localhost:{port}/" in err
