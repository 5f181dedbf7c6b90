"""Flow ids made outside the in-process runtime are unique and make valid node ids."""

from __future__ import annotations

import re

from selinon_backends.runtime.ids import new_flow_id
from selinon_core.dispatch.state import flow_id_of, node_id


def test_new_flow_ids_are_unique_hex_without_dots() -> None:
    ids = [new_flow_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", flow_id) for flow_id in ids)
    assert all(flow_id_of(node_id(flow_id, 3)) == flow_id for flow_id in ids[:100])
