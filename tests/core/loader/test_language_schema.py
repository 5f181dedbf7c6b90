"""The JSON Schema of the YAML language accepts every documented example and rejects bad shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from ruamel.yaml import YAML

from selinon_core.config.language_schema import language_schema

DOCS = Path(__file__).resolve().parents[2] / "fixtures" / "docs"
VALIDATE = fastjsonschema.compile(language_schema())


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "path", sorted(DOCS.rglob("*.yaml")), ids=lambda p: p.parent.name + "/" + p.name
)
def test_documented_examples_match_the_schema(path: Path) -> None:
    VALIDATE(_load(path))


@pytest.mark.parametrize(
    "document",
    [
        {"tasks": [{"name": "T"}]},  # no import
        {"tasks": [{"name": "T", "import": "m", "max_retry": -1}]},
        {"tasks": [{"name": "T", "import": "m", "storge": "S"}]},
        {"flow-definitions": [{"name": "f", "edges": [{"to": "T"}]}]},  # no from
        {"flow-definitions": [{"name": "f", "edges": [{"from": None, "to": []}]}]},
        {
            "flow-definitions": [
                {"name": "f", "edges": [{"from": None, "to": "T", "condition": {"nmae": "x"}}]}
            ]
        },
        {"global": {"trace": [{"json": "yes"}]}},
        {"storages": [{"name": "S", "import": "m"}]},  # no configuration
    ],
)
def test_bad_shapes_are_rejected(document: dict[str, Any]) -> None:
    with pytest.raises(fastjsonschema.JsonSchemaException):
        VALIDATE(document)


def test_shorthands_and_alternative_spellings_are_accepted() -> None:
    VALIDATE(
        {
            "tasks": [
                {
                    "name": "T",
                    "import": "m",
                    "storage_readonly": True,
                    "selective_run_function": {"function": "f", "import": "m"},
                }
            ],
            "flow-definitions": [
                {
                    "name": "f",
                    "eager_failures": True,
                    "nowait": "T",
                    "edges": [{"from": None, "to": "T", "condition": None}],
                    "failures": [{"nodes": "T", "fallback": True}],
                }
            ],
            "global": {"trace": False},
            "anchors": {"anything": "goes"},
        }
    )


def test_schema_is_json_and_fresh_each_call() -> None:
    schema = language_schema()
    assert json.loads(json.dumps(schema)) == schema
    schema["$defs"].clear()
    assert language_schema()["$defs"]
