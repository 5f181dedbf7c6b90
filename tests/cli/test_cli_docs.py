"""The README's commands, ``.ci/run`` and the CLI documentation agree with the code."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    """The one-line commands of the README's ``sh`` blocks under "Quick start"."""
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quick_start)


def test_readme_has_the_two_prominent_commands() -> None:
    install_and_run, run_tests = readme_commands()
    assert install_and_run.startswith("python3 -m venv .venv && ")
    assert "selinon-cli " in install_and_run
    assert run_tests.startswith("python3 -m venv .venv && ")
    assert run_tests.endswith("python -m pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    run_tests = readme_commands()[1]
    code_lines = [
        line for line in CI_RUN.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    assert code_lines[-1] == run_tests


def test_ci_script_is_strict_bash() -> None:
    assert CI_RUN.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in CI_RUN
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True, timeout=30)


def test_ci_starts_services_with_the_agreed_commands() -> None:
    for command in (
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
        "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log",
        "rabbitmq-server -detached",
    ):
        assert command in CI_RUN


def test_readme_main_command_works(cli: Any) -> None:
    main_command = readme_commands()[0].split(" && ")[-1]
    program, *args = shlex.split(main_command)
    assert program == "selinon-cli"
    result = cli(*args)
    assert result.code == 0, result.err


def test_cli_doc_shows_the_real_quickstart_summary(cli: Any) -> None:
    command = "$ selinon-cli --app-dir examples inspect -n examples/quickstart/nodes.yaml"
    block = CLI_DOC.split(command, 1)[1]
    documented = block.split("\n```", 1)[0].splitlines()[1:]
    result = cli(
        "--app-dir",
        "examples",
        "inspect",
        "-n",
        "examples/quickstart/nodes.yaml",
        "-f",
        "examples/quickstart/flows.yaml",
    )
    assert result.out.splitlines() == documented


def test_relative_links_in_the_docs_resolve() -> None:
    broken = []
    for name in ("README.md", "CHANGELOG.md", "docs/index.md", "docs/cli.md"):
        page = ROOT / name
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if "://" in target or target.startswith("#"):
                continue
            if not (page.parent / target.split("#", 1)[0]).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []
