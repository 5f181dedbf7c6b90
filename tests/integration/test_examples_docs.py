"""Every example has a README whose commands run from the repository root as shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_console import ConsoleBlock, parse_page, run_block
from tests.services import require_postgres, require_redis

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXAMPLE_DIRS = sorted(path for path in EXAMPLES.iterdir() if (path / "nodes.yaml").is_file())
PAGES = [EXAMPLES / "README.md", *(path / "README.md" for path in EXAMPLE_DIRS)]
BLOCKS = [block for page in PAGES if page.is_file() for block in parse_page(page, ROOT)]
NEEDS_SERVICES = {
    "examples/storages/README.md": (require_redis, require_postgres),
    "examples/celery_project/README.md": (require_redis,),
}


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=lambda path: path.name)
def test_each_example_has_a_readme_with_its_command(example: Path) -> None:
    readme = example / "README.md"
    assert readme.is_file(), f"{example.name} has no README.md"
    blocks = parse_page(readme, ROOT)
    assert any(
        command.line.startswith(
            f"selinon-cli --app-dir examples execute -n examples/{example.name}/"
        )
        for block in blocks
        for command in block.commands
    )


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=lambda path: path.name)
def test_examples_import_their_modules_from_the_examples_directory(example: Path) -> None:
    """One convention: ``import: <example>.<module>``, found with ``--app-dir examples``."""
    texts = [path.read_text(encoding="utf-8") for path in example.rglob("*.yaml")]
    imports = [
        line.split("import:", 1)[1].split("#", 1)[0].strip().strip("'\"")
        for text in texts
        for line in text.splitlines()
        if line.strip().startswith(("import:", "- import:"))
    ]
    own = [module for module in imports if not module.startswith("selinon.")]
    assert own, f"{example.name} imports none of its own modules"
    assert all(module.startswith(f"{example.name}.") for module in own), own


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.id)
def test_example_readme_console_block(block: ConsoleBlock) -> None:
    for require in NEEDS_SERVICES.get(block.page, ()):
        require()
    run_block(block, ROOT)
