"""docs/observability.md agrees with the code: its YAML, its metric table, its Python."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from selinon_backends.metrics import MetricsSink
from selinon_backends.tracing import Tracer
from selinon_core.config.loader import load_system
from selinon_core.config.spec import GlobalSpec

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "observability.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def test_the_yaml_example_enables_the_sink() -> None:
    documents = [YAML(typ="safe").load(block) for block in _blocks("yaml")]
    specs = [GlobalSpec.model_validate(doc["global"]) for doc in documents if "global" in doc]
    assert [entry.opentelemetry for spec in specs for entry in spec.trace] == [True]


def test_the_metric_table_lists_every_metric() -> None:
    documented = set(re.findall(r"^\| `(selinon_[a-z_]+)` \|", DOC, flags=re.MULTILINE))
    registered = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in MetricsSink().registry.collect()
    }
    assert documented == registered


def test_the_python_examples_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    system = load_system(
        ROOT / "examples" / "quickstart" / "nodes.yaml",
        [ROOT / "examples" / "quickstart" / "flows.yaml"],
    )
    blocks = _blocks("python")
    (otel,) = [block for block in blocks if "InMemorySpanExporter" in block]
    (metrics,) = [block for block in blocks if "serve_metrics" in block]
    exec(otel, {"system": system})
    assert "'flow greeting'" in capsys.readouterr().out
    exec(metrics, {"tracer": Tracer()})
    assert re.search(r"http://127\.0\.0\.1:\d+/metrics", capsys.readouterr().out)
