"""``docs/dashboard.md`` agrees with the code: its options exist, its links and images resolve."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from selinon_backends.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "dashboard.md"


def _help(command: str) -> str:
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_documented_option_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    known = _help("dashboard") + _help("execute")
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", text))
    assert {"--token", "--state-store", "--dashboard", "--dashboard-linger"} <= options
    missing = sorted(
        option
        for option in options
        if option not in known
        and option not in {"--app-dir", "--broker", "--concurrency", "--flow-name", "--node-args"}
    )
    assert missing == []


def test_links_and_images_resolve() -> None:
    text = DOC.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    assert "images/dashboard-flows.png" in targets
    assert "images/dashboard-flow.png" in targets
    broken = [
        target
        for target in targets
        if "://" not in target and not (DOC.parent / target.split("#", 1)[0]).exists()
    ]
    assert broken == []
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "(dashboard.md)" in index
