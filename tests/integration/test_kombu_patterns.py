"""The Kombu runtime gives the in-process engine's report for every flow pattern.

A worker (two consumer threads) and a client run in this process on Kombu's ``memory://``
broker and ``memory://`` stores; each flow's report must equal ``Engine.run_flow``'s, ids and
order aside.  The same runtime on real brokers and stores, with worker processes, is in
``test_kombu_services.py``.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
from kombu_support import in_process, make_queued_system, normalized

from selinon_backends.distributed import messages
from selinon_backends.distributed.backends import open_backends
from selinon_backends.distributed.journal import MemoryJournal
from selinon_backends.kombu import Client, KombuWorker
from selinon_backends.kombu.transport import DEAD_LETTER_QUEUE, broker_connection, kombu_queue
from selinon_backends.runtime import Engine
from selinon_core.dispatch.actions import RunTask
from selinon_core.dispatch.events import NodeSucceeded, SubflowFinished
from selinon_core.errors import UnknownFlowError, WireError

FOREACH = {"import": "rt_tasks", "function": "items"}


def edges(*pairs: tuple[Any, Any], **extra: Any) -> dict[str, Any]:
    return {"edges": [{"from": src, "to": dst} for src, dst in pairs], **extra}


PATTERNS: dict[str, tuple[dict[str, Any], Any, dict[str, Any]]] = {
    "sequence": ({"flow1": edges(([], "Echo"), ("Echo", "Add"))}, {"n": 1}, {}),
    "join": ({"flow1": edges(([], ["Echo", "Noop"]), (["Echo", "Noop"], "Add"))}, {"n": 5}, {}),
    "condition": (
        {
            "flow1": {
                "edges": [
                    {"from": [], "to": "Echo"},
                    {
                        "from": "Echo",
                        "to": "Noop",
                        "condition": {"name": "fieldEqual", "args": {"key": "task", "value": "X"}},
                    },
                    {
                        "from": "Echo",
                        "to": "Add",
                        "condition": {
                            "name": "fieldEqual",
                            "args": {"key": "task", "value": "Echo"},
                        },
                    },
                ]
            }
        },
        {"n": 1},
        {},
    ),
    "foreach": (
        {
            "flow1": {
                "edges": [
                    {"from": [], "to": "Echo"},
                    {"from": "Echo", "to": "Noop", "foreach": FOREACH},
                ]
            }
        },
        {"n": 6},
        {},
    ),
    "foreach-subflows": (
        {
            "flow1": {
                "edges": [
                    {"from": [], "to": "flow2", "foreach": {**FOREACH, "propagate_result": True}}
                ]
            },
            "flow2": edges(([], "Echo")),
        },
        {"n": 3},
        {},
    ),
    "nested-subflows": (
        {
            "flow1": edges(
                ([], "flow2"), ("flow2", "Noop"), propagate_node_args=True, propagate_finished=True
            ),
            "flow2": edges(([], "Echo"), ("Echo", "flow3"), propagate_node_args=True),
            "flow3": edges(([], "Echo")),
        },
        {"n": 3},
        {},
    ),
    "nowait": ({"flow1": edges(([], ["Boom", "Noop"]), nowait=["Boom"])}, None, {}),
    "task-fallback": (
        {"flow1": edges(([], "Boom"), failures=[{"nodes": "Boom", "fallback": "ParentError"}])},
        None,
        {},
    ),
    "flow-fallback": (
        {
            "flow1": edges(([], "Boom"), failures=[{"nodes": "Boom", "fallback": "flow2"}]),
            "flow2": edges(([], "Noop")),
        },
        None,
        {},
    ),
    "unhandled-failure": ({"flow1": edges(([], ["Boom", "Echo"]), ("Echo", "Noop"))}, {"n": 1}, {}),
    "failed-subflow": ({"flow1": edges(([], "flow2")), "flow2": edges(([], "Boom"))}, None, {}),
    "task-retries": ({"flow1": edges(([], "Flaky"))}, None, {"Flaky": {"max_retry": 2}}),
    "fatal": ({"flow1": edges(([], "Fatal"))}, None, {"Fatal": {"max_retry": 5}}),
    "flow-retry": ({"flow1": edges(([], "Boom"), max_retry=1, retry_countdown=0.05)}, None, {}),
    "eager-failure": (
        {"flow1": edges(([], ["Boom", "Echo"]), ("Echo", "Noop"), eager_failures=["Boom"])},
        {"n": 1},
        {},
    ),
    "node-args-from-first": (
        {"flow1": edges(([], "Echo"), ("Echo", "AsyncEcho"), node_args_from_first=True)},
        {"n": 7},
        {},
    ),
    "throttled-foreach": (
        {"flow1": {"edges": [{"from": [], "to": "Noop", "foreach": FOREACH}]}},
        {"n": 3},
        {"Noop": {"throttling": {"seconds": 0.05}}},
    ),
    "large-parent": (  # Noop's parent names 60 Echo ids: it travels by reference
        {
            "flow1": edges(([], "flow2"), ("flow2", "Noop"), propagate_finished=True),
            "flow2": {"edges": [{"from": [], "to": "Echo", "foreach": FOREACH}]},
        },
        {"n": 60},
        {},
    ),
    "bad-results": (
        {
            "flow1": edges(
                ([], ["NotJson", "Echo"]),
                failures=[{"nodes": "NotJson", "fallback": "ParentError"}],
            )
        },
        {"n": 2},
        {},
    ),
}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_kombu_report_equals_the_in_process_report(name: str) -> None:
    flows, args, overrides = PATTERNS[name]
    queue = f"t-{uuid.uuid4().hex[:8]}"
    system = make_queued_system(flows, queue, **overrides)
    expected = Engine(system).run_flow("flow1", args)
    # An eager failure races the other branch: one consumer keeps the in-process order.
    concurrency = 1 if name == "eager-failure" else 2
    with in_process(system, concurrency=concurrency) as (client, _):
        got = client.wait(client.run_flow("flow1", args), timeout=30)
        # A flow does not wait for its nowait nodes (the in-process run does): let them end.
        for _ in range(500):
            if all(r.status in ("succeeded", "failed") for r in got.runs):
                break
            time.sleep(0.01)
            got = client.status(got.flow_id) or got
    assert got.status == expected.status
    assert normalized(got) == normalized(expected)
    assert got.flow_statuses.keys() - {got.flow_id} == {
        r.node_id for r in got.runs if r.kind == "flow" and r.status != "running"
    }


def test_selective_run_and_status_while_running() -> None:
    system = make_queued_system(
        {"flow1": edges(([], ["Echo", "Noop"]), ("Echo", "Add"))}, f"t-{uuid.uuid4().hex[:8]}"
    )
    with in_process(system) as (client, _):
        with pytest.raises(UnknownFlowError):
            client.run_flow("nope")
        flow_id = client.run_flow_selective("flow1", ["Add"], {"n": 1})
        done = client.wait(flow_id, timeout=30)
        assert client.finished(flow_id)
        again = client.status(flow_id)
    assert done.status == "succeeded"
    assert sorted(r.node_name for r in done.runs) == ["Add", "Echo"]
    assert again is not None
    assert normalized(again) == normalized(done)
    assert client.status("unknown-flow") is None


def test_poison_messages_go_to_the_dead_letter_queue() -> None:
    queue = f"t-{uuid.uuid4().hex[:8]}"
    system = make_queued_system({"flow1": edges(([], "Noop"))}, queue)
    traced: list[Any] = []
    unknown_task = RunTask("f1", "flow1", "NoSuchTask", "f1.0", None, {}, f"{queue}.tasks")
    bodies = [
        b"not json",
        json.dumps(
            {"m": {"v": 999, "type": "event", "kind": "NodeSucceeded", "body": {}}}
        ).encode(),
        messages.pack(NodeSucceeded("no-such-flow", "no-such-flow.0", 0.0)),
        messages.pack(unknown_task),
    ]
    with in_process(system, tracer=traced.append) as (client, worker):
        connection = broker_connection("memory://")
        with connection:
            sink = kombu_queue(DEAD_LETTER_QUEUE)(connection.default_channel)
            sink.declare()
            sink.purge()
            for body in bodies:
                target = f"{queue}.tasks" if body is bodies[-1] else f"{queue}.flows"
                client._get_publisher().send(target, body)
            # The queue is not blocked: a flow after the poison still runs.
            assert client.wait(client.run_flow("flow1"), timeout=30).status == "succeeded"
            dead = []
            for _ in range(200):
                message = sink.get(no_ack=True)
                if message is None:
                    if len(dead) == len(bodies):
                        break
                    worker.stopping.wait(0.01)
                    continue
                dead.append(message)
    reasons = sorted(m.headers["x-selinon-reason"] for m in dead)
    assert len(reasons) == 4
    assert any("malformed JSON" in r for r in reasons)
    assert any("unsupported wire version 999" in r for r in reasons)
    assert any("NoSuchTask" in r for r in reasons)
    assert any("no-such-flow" in r for r in reasons)
    assert len([t for t in traced if t.name.value == "MESSAGE_DEAD_LETTERED"]) == 4


def test_messages_stay_small_and_leave_subflow_summaries_out() -> None:
    huge = {"finished_nodes": {"Noop": [f"x.{i}" for i in range(10_000)]}}
    body = messages.pack(SubflowFinished("p", "p.1", 1.0, huge))  # type: ignore[arg-type]
    assert len(body) < 300
    decoded = messages.unpack(body)
    assert decoded.payload == SubflowFinished("p", "p.1", 1.0, {})
    task = RunTask("f" * 32, "flow", "T", "f" * 32 + ".12345", {"k": "v"}, {"A": "f.1"}, "q")
    packed = messages.pack(task, retries=3)
    assert messages.unpack(packed) == messages.Message(task, 3)
    assert len(packed) < 2048
    parent = {"Noop": [f"{'f' * 32}.{i}" for i in range(10_000)]}
    join = RunTask("f" * 32, "flow", "Join", "f" * 32 + ".10001", {"k": "v"}, parent, "q")
    assert messages.parent_is_large(join)
    by_ref = messages.pack(join, parent_ref=True)
    assert len(by_ref) < 2048
    assert messages.unpack(by_ref) == messages.Message(replace(join, parent={}), 0, True)
    journal = MemoryJournal()
    with pytest.raises(WireError, match="not in the run journal"):
        messages.with_parent(messages.unpack(by_ref).payload, journal)
    journal.write(root="f" * 32, entries={f"s:{join.task_id}": {"parent": parent}})
    assert messages.with_parent(messages.unpack(by_ref).payload, journal) == join
    for bad in (b"[]", b'{"m": {}, "x": 1}', b'{"m": {}, "r": -1}'):
        with pytest.raises(WireError):
            messages.unpack(bad)


def _purge(queue_name: str) -> int:
    with broker_connection("memory://") as connection:
        return int(kombu_queue(queue_name)(connection.default_channel).purge() or 0)


def _wait_for(predicate: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_safety_net_redrives_a_flow_whose_messages_were_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="selinon.distributed")
    queue = f"t-{uuid.uuid4().hex[:8]}"
    sampling = {"name": "constant", "args": {"retry": 0.05}}
    flows = {"flow1": edges(([], "Echo"), ("Echo", "Noop"), sampling=sampling)}
    system = make_queued_system(flows, queue)
    backends = open_backends(f"memory://{uuid.uuid4().hex}")
    dispatcher = KombuWorker(
        system, broker_url="memory://", backends=backends, queues=[f"{queue}.flows"]
    )
    runner = KombuWorker(
        system, broker_url="memory://", backends=backends, queues=[f"{queue}.tasks"]
    )
    client = Client(system, broker="memory://", backends=backends)
    try:
        dispatcher.start()
        flow_id = client.run_flow("flow1", {"n": 1})
        # The first task run is lost before any worker takes it.
        _wait_for(lambda: _purge(f"{queue}.tasks") == 1, "the task message")
        runner.start()
        # Then Echo's completion is lost: no dispatcher runs while it is published.
        journal = backends.journal
        _wait_for(lambda: f"o:{flow_id}.0" in journal.read(root=flow_id), "Echo's outcome")
        dispatcher.stop()
        dispatcher.join(10)
        _purge(f"{queue}.flows")
        dispatcher = KombuWorker(
            system, broker_url="memory://", backends=backends, queues=[f"{queue}.flows"]
        )
        dispatcher.start()
        done = client.wait(flow_id, timeout=30)
    finally:
        for worker in (dispatcher, runner):
            worker.stop()
            worker.join(10)
        client.close()
    assert done.status == "succeeded"
    assert [r.node_name for r in done.runs] == ["Echo", "Noop"]
    redriven = [r.getMessage() for r in caplog.records if "safety net" in r.getMessage()]
    assert any(f"task {flow_id}.0 again" in line for line in redriven), redriven
