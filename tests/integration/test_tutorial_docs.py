"""docs/tutorial.md works as written: its files, its commands and the outputs it shows.

Every console block is one test: the files the tutorial writes before it are replayed into a
fresh directory, then its commands run there (see ``docs_console`` for the conventions).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_console import (
    ConsoleBlock,
    broken_links,
    matches,
    parse_page,
    run_block,
    write_files,
)

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = parse_page(ROOT / "docs" / "tutorial.md", ROOT)


def test_the_tutorial_covers_every_step() -> None:
    written = {block.path for block in BLOCKS[-1].files}
    assert {"nodes.yaml", "flows.yaml", "newsletter/tasks.py", "newsletter/foreach.py"} <= written
    commands = [command.line for block in BLOCKS for command in block.commands]
    for needed in ("selinon-cli inspect", "selinon-cli execute", "selinon-cli -v execute"):
        assert any(line.startswith(needed) for line in commands), needed
    assert all(command.expected for block in BLOCKS for command in block.commands)


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: f"line{block.line}")
def test_tutorial_console_block(block: ConsoleBlock, tmp_path: Path) -> None:
    write_files(tmp_path, block.files)
    run_block(block, tmp_path)


def test_matching_with_ellipsis_and_durations() -> None:
    assert matches(("a", "...", "d"), ["a", "b", "c", "d"])
    assert matches(("a", "...", "b"), ["a", "b"])
    assert not matches(("a", "...", "d"), ["a", "b", "c"])
    assert matches(
        ('"duration_s": 0.1,', "done in 0.001s"), ['"duration_s": 2e-05,', "done in 12.345s"]
    )
    assert not matches(("2 runs",), ["3 runs"])
    assert not matches(("a",), ["a", "b"])


def test_links_of_the_tutorial_and_the_example_readmes_resolve() -> None:
    pages = [ROOT / "docs" / "tutorial.md", *sorted((ROOT / "examples").rglob("README.md"))]
    assert {page.name: broken_links(page) for page in pages} == {page.name: [] for page in pages}
