"""The ``propagate_*`` flags of a flow are listed once, in ``spec.PROPAGATE_FLAGS``.

The model, the shape validator, the cross-reference rules and the JSON schema all derive their
lists from that constant; these tests pin the constant to the model and check every user of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from selinon_core.config.conditions import ConditionError
from selinon_core.config.language_schema import language_schema
from selinon_core.config.loader import load_system_from_texts
from selinon_core.config.spec import (
    PROPAGATE_DESTINATION_FLAGS,
    PROPAGATE_FAILURE_FLAGS,
    PROPAGATE_FLAGS,
    PROPAGATE_SOURCE_FLAGS,
    FlowSpec,
)
from selinon_core.errors import SpecError, describe_error

NODES = """\
tasks:
  - name: Task1
    import: myproject.tasks
  - name: Task2
    import: myproject.tasks
  - name: Task3
    import: myproject.tasks
flows: [flow1, flow2]
"""

EDGES = """\
    edges:
      - from:
        to: Task1
      - from: Task1
        to: [Task2, flow2]
"""


def _flows(keys: str) -> str:
    return (
        "flow-definitions:\n  - name: flow1\n"
        + keys
        + EDGES
        + "  - name: flow2\n    edges:\n      - from:\n        to: Task3\n"
    )


def _messages(keys: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(NODES, [_flows(keys)], environ={})
    return [p.message for p in caught.value.problems]


def test_flags_are_exactly_the_propagate_fields_of_the_flow_model() -> None:
    fields = tuple(name for name in FlowSpec.model_fields if name.startswith("propagate_"))
    assert fields == PROPAGATE_FLAGS


def test_the_subsets_partition_the_flags_in_order() -> None:
    subsets = (PROPAGATE_DESTINATION_FLAGS, PROPAGATE_SOURCE_FLAGS, PROPAGATE_FAILURE_FLAGS)
    assert tuple(flag for subset in subsets for flag in subset) == PROPAGATE_FLAGS
    assert len(set(PROPAGATE_FLAGS)) == len(PROPAGATE_FLAGS)
    assert all(isinstance(subset, tuple) for subset in (*subsets, PROPAGATE_FLAGS))


def _flow(**flags: Any) -> FlowSpec:
    return FlowSpec.model_validate({"name": "f", "edges": [{"from": None, "to": "T"}], **flags})


@pytest.mark.parametrize("flag", PROPAGATE_FLAGS)
def test_every_flag_is_normalised(flag: str) -> None:
    assert getattr(_flow(**{flag: "T"}), flag) == ("T",)
    assert getattr(_flow(**{flag: ["T", "U"]}), flag) == ("T", "U")
    assert getattr(_flow(**{flag: None}), flag) is False
    assert getattr(_flow(**{flag: True}), flag) is True
    assert getattr(_flow(), flag) is False


@pytest.mark.parametrize("flag", PROPAGATE_FLAGS)
def test_every_flag_has_the_shape_message(flag: str) -> None:
    expected = f"{flag!r} must be a boolean, a node name or a list of node names (got 3)"
    assert any(expected in message for message in _messages(f"    {flag}: 3\n"))


@pytest.mark.parametrize(
    ("flag", "what"),
    [
        *((f, "a sub-flow started in this flow") for f in PROPAGATE_DESTINATION_FLAGS),
        *((f, "a sub-flow that is a source of an edge") for f in PROPAGATE_SOURCE_FLAGS),
        *((f, "a node with a fallback in this flow") for f in PROPAGATE_FAILURE_FLAGS),
    ],
)
def test_every_flag_checks_what_it_names(flag: str, what: str) -> None:
    expected = f"{flag!r} names 'Task3', which is not {what}"
    assert any(expected in message for message in _messages(f"    {flag}: [Task3]\n"))


@pytest.mark.parametrize("flag", PROPAGATE_FLAGS)
def test_the_schema_accepts_a_single_name_for_every_flag(flag: str) -> None:
    validate = fastjsonschema.compile(language_schema())
    for value in (True, "flow2", ["flow2"], None):
        flow: dict[str, Any] = {"name": "f", "edges": [{"from": None, "to": "T"}], flag: value}
        validate({"flow-definitions": [flow]})


# ------------------------------------------------------- error text: ``describe_error`` form


def test_condition_error_text_is_type_and_message() -> None:
    error = ConditionError("p", KeyError("x"), "p(message('T1'))")
    assert str(error) == "predicate 'p' raised KeyError: 'x' (while evaluating p(message('T1')))"
    assert describe_error(KeyError("x")) in str(error)


def test_a_module_raising_on_import_is_reported_as_type_and_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "boom_on_import.py").write_text("raise ValueError('boom')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    nodes = NODES.replace("myproject.tasks", "boom_on_import", 1)
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(nodes, [_flows("")], environ={})
    messages = [p.message for p in caught.value.problems]
    assert "task 'Task1': cannot import module 'boom_on_import': ValueError: boom" in messages
