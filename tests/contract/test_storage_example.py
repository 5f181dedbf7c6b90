"""examples/storages runs end to end on the real Redis and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.services import POSTGRES_DSN, require_postgres, require_redis, unique_name

from selinon_backends.runtime.engine import Engine
from selinon_backends.storage.pool import StoragePool
from selinon_core.config.loader import load_system_from_texts
from selinon_core.config.system import System

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "storages"


@pytest.fixture
def example_system(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[System, str, str]]:
    """The example's System with a key prefix and table private to this test run."""
    require_redis()
    require_postgres()
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))  # as --app-dir examples: storages.tasks
    prefix, table = unique_name("selinon-example"), unique_name("selinon_example")
    nodes = (EXAMPLE / "nodes.yaml").read_text(encoding="utf-8")
    nodes = nodes.replace("key_prefix: selinon-example", f"key_prefix: {prefix}")
    nodes = nodes.replace("table: selinon_example_results", f"table: {table}")
    flows = (EXAMPLE / "flows.yaml").read_text(encoding="utf-8")
    yield load_system_from_texts(nodes, [flows]), prefix, table
    import psycopg
    import redis

    admin = redis.Redis(host="127.0.0.1", port=6379)
    keys = list(admin.scan_iter(match=f"{prefix}:*"))
    if keys:
        admin.delete(*keys)
    admin.close()
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{table}", "{table}_error"')


def test_example_flow_stores_into_redis_and_postgresql(
    example_system: tuple[System, str, str],
) -> None:
    system, prefix, table = example_system
    pool = StoragePool(system)
    with pool:
        run = Engine(system, storage_pool=pool).run_flow(
            "orders", {"order_id": 7, "items": [["pizza", 2], ["beer", 3]]}
        )
        assert run.status == "succeeded"
        ids = {r.node_name: r.node_id for r in run.runs}
        assert list(ids) == ["ReadOrder", "PriceOrder", "Receipt"]
        redis_storage = pool.get_connected_storage("Cache")
        assert redis_storage.client.exists(f"{prefix}:result:{ids['ReadOrder']}") == 1
        ledger = pool.get_connected_storage("Ledger")
        assert ledger.retrieve("orders", "PriceOrder", ids["PriceOrder"])["total"] == 26.0
        receipt = ledger.retrieve("orders", "receipt", ids["Receipt"])
        assert receipt["text"].endswith("total: 26.00")
    import psycopg

    with psycopg.connect(POSTGRES_DSN) as conn:
        rows = conn.execute(f'SELECT task_name FROM "{table}" ORDER BY id').fetchall()
    assert rows == [("PriceOrder",), ("receipt",)]
