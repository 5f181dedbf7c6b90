"""The YAML snippets of docs/storages.md load and build the adapters they describe."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from selinon_backends.storage.pool import StoragePool
from selinon_core.config.loader import load_system_from_texts

DOC = Path(__file__).resolve().parents[2] / "docs" / "storages.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
ENVIRON = {
    "HOME": "/tmp/selinon-docs-home",
    "REDIS_HOST": "127.0.0.1",
    "PGUSER": "postgres",
    "PGHOST": "127.0.0.1",
    "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    "AWS_ACCESS_KEY_ID": "id",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "KV_HOST": "kv.example",
}
SHIPPED = [b for b in BLOCKS if "import: selinon.storages." in b]
FLOWS = """
flow-definitions:
  - name: docs_flow
    edges:
      - from:
        to: DocsTask
"""


def _entry(block: str) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(block)
    [entry] = data["storages"]
    return dict(entry)


def test_every_shipped_adapter_has_a_snippet() -> None:
    classes = sorted(_entry(block)["classname"] for block in SHIPPED)
    assert classes == ["Filesystem", "InMemoryStorage", "PostgreSQL", "Redis", "S3"]


@pytest.mark.parametrize("block", SHIPPED, ids=lambda b: _entry(b)["classname"])
def test_snippet_builds_its_adapter(block: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Built-in adapters expand their configuration from the process environment when built.
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    entry = _entry(block)
    nodes = (
        "tasks:\n  - name: DocsTask\n    import: examples.quickstart.tasks\n"
        f"    classname: Greet\n    storage: {entry['name']}\n"
        f"flows: [docs_flow]\n{block}"
    )
    system = load_system_from_texts(nodes, [FLOWS], check_imports=False, environ=ENVIRON)
    adapter = StoragePool(system).get_storage_instance(entry["name"])
    assert type(adapter).__name__ == ("S3" if entry["classname"] == "S3" else entry["classname"])
    assert not adapter.is_connected()
    for key, value in entry["configuration"].items():
        if isinstance(value, str) and "{" not in value and hasattr(adapter, key):
            assert str(getattr(adapter, key)) == value, key


def test_custom_adapter_snippet_is_valid_yaml() -> None:
    custom = [b for b in BLOCKS if "myapp.storages" in b]
    assert [_entry(b)["configuration"] for b in custom] == [{"host": "{KV_HOST}", "port": 7000}]
