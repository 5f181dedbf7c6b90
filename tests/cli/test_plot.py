"""``selinon-cli plot``: every example flow in every format, options, errors and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from tests.cli.conftest import ROOT, Cli, Files
from tests.plot.dotparse import parse_dot, require_dot
from tests.plot.mermaidcheck import check_syntax

from selinon_backends.cli.plot import PLOT_FORMATS
from selinon_backends.plot import FILE_EXTENSIONS, FORMATS
from selinon_core.config.loader import load_system

EXAMPLES = sorted(path.parent.name for path in (ROOT / "examples").glob("*/nodes.yaml"))
IMAGE_FORMATS = ("svg", "png", "pdf")


def example_args(name: str) -> list[str]:
    """``-n ... -f ...`` of an example (its flows are a ``flows`` directory or ``flows.yaml``)."""
    base = Path("examples") / name
    flows = base / "flows" if (ROOT / base / "flows").is_dir() else base / "flows.yaml"
    return ["-n", str(base / "nodes.yaml"), "-f", str(flows)]


def example_flows(name: str) -> list[str]:
    args = example_args(name)
    system = load_system(ROOT / args[1], [ROOT / args[3]], check_imports=False)
    return list(system.spec.flows)


def check_file(path: Path, fmt: str) -> None:
    data = path.read_bytes()
    if fmt == "svg":
        assert ElementTree.fromstring(data).tag == "{http://www.w3.org/2000/svg}svg"
        assert b'id="node&#45;' in data
    elif fmt == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    elif fmt == "pdf":
        assert data.startswith(b"%PDF-")
    elif fmt == "dot":
        text = data.decode()
        assert text.startswith(f"digraph {path.stem} {{")
        assert parse_dot(text).nodes
    else:
        nodes, _, _ = check_syntax(data.decode())
        assert nodes


def test_the_format_choices_are_the_package_formats() -> None:
    assert PLOT_FORMATS == FORMATS


def test_examples_are_found() -> None:
    assert {"dinner", "cyclic", "quickstart", "selective", "storages"} <= set(EXAMPLES)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_flow_renders(cli: Cli, tmp_path: Path, example: str, fmt: str) -> None:
    if fmt in IMAGE_FORMATS:
        require_dot()
    out = tmp_path / "out"
    result = cli("plot", *example_args(example), "-o", str(out), "--format", fmt)
    assert result.code == 0, result.err
    flows = example_flows(example)
    expected = [out / f"{flow}.{FILE_EXTENSIONS[fmt]}" for flow in flows]
    assert result.out.splitlines() == [str(path) for path in expected]
    assert sorted(out.iterdir()) == sorted(expected)
    for path in expected:
        check_file(path, fmt)


def test_flow_selects_flows_in_the_order_given(cli: Cli, tmp_path: Path) -> None:
    args = example_args("dinner")
    result = cli(
        "plot", *args, "-o", str(tmp_path), "--format", "dot",
        "--flow", "prepareFlow", "--flow", "dinnerFlow", "--flow", "prepareFlow",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        str(tmp_path / "prepareFlow.dot"),
        str(tmp_path / "dinnerFlow.dot"),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dinnerFlow.dot", "prepareFlow.dot"]


def test_an_unknown_flow_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("plot", *example_args("dinner"), "-o", str(tmp_path), "--flow", "prepareFlw")
    assert result.code == 2
    assert "--flow: no flow is named 'prepareFlw' (did you mean 'prepareFlow'?)" in result.err
    assert list(tmp_path.iterdir()) == []


def test_the_output_directory_is_created(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    result = cli("plot", *example_args("quickstart"), "-o", str(out), "--format", "mermaid")
    assert result.code == 0, result.err
    assert (out / "greeting.mmd").is_file()


def test_an_output_directory_that_is_a_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = cli("plot", *example_args("quickstart"), "-o", str(target), "--format", "dot")
    assert result.code == 2
    assert "is not a directory" in result.err


def test_the_default_format_is_svg_in_the_current_directory(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_dot()
    nodes, flows = (str(ROOT / arg) for arg in example_args("quickstart")[1::2])
    monkeypatch.chdir(tmp_path)
    result = cli("plot", "-n", nodes, "-f", flows)
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["greeting.svg"]
    check_file(tmp_path / "greeting.svg", "svg")


def test_the_format_comes_from_the_environment(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELINON_PLOT_FORMAT", "mermaid")
    result = cli("plot", *example_args("quickstart"), "-o", str(tmp_path))
    assert result.code == 0, result.err
    assert result.out.splitlines() == [str(tmp_path / "greeting.mmd")]


def test_a_bad_format_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("plot", *example_args("quickstart"), "-o", str(tmp_path), "--format", "gif")
    assert result.code == 2
    assert "gif" in result.err


def test_the_nodes_definition_is_required(cli: Cli) -> None:
    result = cli("plot", "--format", "dot")
    assert result.code == 2
    assert "nodes definition file is required" in result.err


def test_an_invalid_configuration_lists_its_problems(cli: Cli, files: Files) -> None:
    nodes = files.write("nodes.yaml", "tasks:\n  - {name: A, import: m}\nflows: [f]\n")
    flows = files.write(
        "flows.yaml", "flow-definitions:\n  - {name: f, edges: [{from: [], to: B}]}\n"
    )
    result = cli("plot", "-n", nodes, "-f", flows, "-o", str(files.root), "--format", "dot")
    assert result.code == 2
    assert "'B'" in result.err
    assert "Configuration is invalid" in result.err
    assert not list(files.root.glob("*.dot"))


def test_user_modules_are_imported_only_with_check_imports(cli: Cli, files: Files) -> None:
    nodes = files.write(
        "nodes.yaml", "tasks:\n  - {name: A, import: plot_test_absent_module}\nflows: [f]\n"
    )
    flows = files.write(
        "flows.yaml", "flow-definitions:\n  - {name: f, edges: [{from: [], to: A}]}\n"
    )
    args = ["plot", "-n", nodes, "-f", flows, "-o", str(files.root), "--format", "dot"]
    assert cli(*args).code == 0
    checked = cli(*args, "--check-imports")
    assert checked.code == 2
    assert "cannot import module 'plot_test_absent_module'" in checked.err


def test_a_style_file_is_applied(cli: Cli, files: Files) -> None:
    style = files.write("style.yml", "style:\n  task:\n    fillcolor: '#123456'\n")
    out = files.root / "out"
    result = cli("plot", *example_args("cyclic"), "-o", str(out), "--format", "dot", "-c", style)
    assert result.code == 0, result.err
    dot = parse_dot((out / "cyclicFlow.dot").read_text())
    assert dot.nodes["node-Task1"]["fillcolor"] == "#123456"


def test_a_style_file_with_an_unknown_key_is_a_usage_error(cli: Cli, files: Files) -> None:
    style = files.write("style.yml", "task:\n  color: red\nconditions:\n  color: blue\n")
    result = cli("plot", *example_args("cyclic"), "-o", str(files.root), "--config", style)
    assert result.code == 2
    assert f"--config: {style}: unknown style key 'conditions'" in result.err
    assert "did you mean 'condition'?" in result.err


@pytest.fixture
def path_without_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A PATH with nothing on it (so no ``dot``), set for this process."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return str(empty)


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_images_without_dot_say_what_to_install(
    cli: Cli, tmp_path: Path, path_without_dot: str, fmt: str
) -> None:
    out = tmp_path / "out"
    result = cli("plot", *example_args("dinner"), "-o", str(out), "--format", fmt)
    assert result.code == 1
    assert f"the graphviz 'dot' program is needed for {fmt} output" in result.err
    assert "apt-get install graphviz" in result.err
    assert "--format dot or --format mermaid" in result.err
    assert "Traceback" not in result.err
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_text_formats_need_no_dot_program(
    cli: Cli, tmp_path: Path, path_without_dot: str, fmt: str
) -> None:
    result = cli("plot", *example_args("dinner"), "-o", str(tmp_path), "--format", fmt)
    assert result.code == 0, result.err
    assert len(result.out.splitlines()) == 5


def test_the_installed_command_without_dot_on_path(tmp_path: Path) -> None:
    """The same message from a real process whose PATH lacks ``dot``."""
    env = {**os.environ, "PATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "selinon_backends.cli", "plot", *example_args("cyclic"),
         "-o", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Debian/Ubuntu: apt-get install graphviz" in done.stderr
    assert done.stdout == ""


def test_plot_imports_no_runtime_terminal_or_graph_library(tmp_path: Path) -> None:
    from tests.test_imports import cli as snippet
    from tests.test_imports import heavy_imports

    args = ["plot", *example_args("dinner"), "-o", str(tmp_path), "--format", "mermaid"]
    found = heavy_imports(snippet(*args))
    assert (tmp_path / "dinnerFlow.mmd").is_file()
    assert not {"networkx", "rich", "kombu", "structlog", "redis", "psycopg"} & set(found)
