"""Style files: Selinon's documented top-level form, its ``style:`` form, and bad keys."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from tests.plot.dotparse import parse_dot

from selinon_backends.plot import DEFAULT_STYLE, StyleError, flow_graph_dot, load_style
from selinon_core.config.system import System

TOP_LEVEL = """
task:
  fillcolor: '#ffcc00'
  shape: box
condition_foreach:
  fillcolor: pink
fallback_edge:
  arrowtype: normal
  color': blue
store_edge:
  style: dotted
graph:
  rankdir: LR
"""


def write(tmp_path: Path, text: str, name: str = "style.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def nested(text: str) -> str:
    return "style:\n" + textwrap.indent(textwrap.dedent(text), "  ")


@pytest.mark.parametrize("form", ["top-level", "style-nested"])
def test_both_forms_give_the_same_style(tmp_path: Path, form: str) -> None:
    text = TOP_LEVEL if form == "top-level" else nested(TOP_LEVEL)
    style = load_style(write(tmp_path, text))
    assert style.attrs("task") == {
        "style": "filled",
        "color": "black",
        "fillcolor": "#ffcc00",
        "shape": "box",
    }
    assert style.attrs("condition_foreach")["fillcolor"] == "pink"
    assert style.attrs("condition_foreach")["shape"] == "doubleoctagon"  # default kept
    # Selinon's documented spellings become graphviz attributes
    assert style.attrs("fallback_edge") == {"arrowhead": "normal", "color": "blue"}
    assert style.attrs("graph")["rankdir"] == "LR"
    assert style.source.endswith("style.yml")


def test_the_style_reaches_the_dot_source(tmp_path: Path, system: System) -> None:
    style = load_style(write(tmp_path, nested(TOP_LEVEL)))
    dot = parse_dot(flow_graph_dot(system, "mainFlow", style))
    assert dot.nodes["node-Fetch"]["shape"] == "box"
    assert dot.nodes["node-Fetch"]["fillcolor"] == "#ffcc00"
    assert dot.nodes["cond-2"]["fillcolor"] == "pink"
    assert dot.edges_between("node-Fetch", "node-Rescue")[0]["color"] == "blue"
    assert dot.edges_between("node-Fetch", "storage-Cache")[0]["style"] == "dotted"
    assert "rankdir=LR" in flow_graph_dot(system, "mainFlow", style)


def test_null_removes_a_default_and_numbers_become_text(tmp_path: Path) -> None:
    style = load_style(write(tmp_path, "task:\n  color: null\n  penwidth: 2.5\n  peripheries: 2\n"))
    assert "color" not in style.attrs("task")
    assert style.attrs("task")["penwidth"] == "2.5"
    assert style.attrs("task")["peripheries"] == "2"


def test_an_empty_file_is_the_default_style(tmp_path: Path) -> None:
    style = load_style(write(tmp_path, ""))
    assert style.kinds == DEFAULT_STYLE.kinds


@pytest.mark.parametrize("form", ["top-level", "style-nested"])
def test_an_unknown_key_names_the_file_and_the_key(tmp_path: Path, form: str) -> None:
    text = "tasks:\n  color: red\n"
    path = write(tmp_path, text if form == "top-level" else nested(text))
    with pytest.raises(StyleError) as caught:
        load_style(path)
    message = str(caught.value)
    assert str(path) in message
    assert "unknown style key" in message
    assert ("'tasks'" if form == "top-level" else "'style.tasks'") in message
    assert "did you mean 'task'?" in message


def test_both_forms_at_once_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "style:\n  task: {color: red}\nflow:\n  color: blue\n")
    with pytest.raises(StyleError, match=r"'flow': give element kinds either at the top level"):
        load_style(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("task: red\n", r"task: expected a mapping of graphviz attributes"),
        ("task:\n  color: [red]\n", r"task\.color: a graphviz attribute value must be"),
        ("- task\n", r"a style file must be a mapping"),
        ("task: {color: red\n", r"not valid YAML"),
    ],
)
def test_malformed_files_are_rejected_with_the_place(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(StyleError, match=expected) as caught:
        load_style(path)
    assert str(caught.value).startswith(str(path))


def test_a_missing_file_is_a_style_error(tmp_path: Path) -> None:
    with pytest.raises(StyleError, match=r"missing\.yml: cannot read the style file"):
        load_style(tmp_path / "missing.yml")
