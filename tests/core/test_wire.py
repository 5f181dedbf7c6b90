"""The wire codec: every event, action, state and delta survives JSON; bad input is a WireError.

Strategies are derived from the dataclass fields and their type hints (a table of hint ->
strategy), so a field added to an event or action is generated, and round-tripped, without
touching this file; a hint the table does not know fails loudly.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selinon_core.config.loader import load_system_from_texts
from selinon_core.dispatch import wire
from selinon_core.dispatch.actions import Action, FinishFlow, RunTask
from selinon_core.dispatch.delta import apply_delta, state_delta
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.dispatch.events import (
    ErrorSummary,
    Event,
    FlowRequested,
    NodeFailed,
    NodeSucceeded,
)
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.state import FlowState
from selinon_core.errors import WireError
from selinon_core.testing import Simulation, run_to_completion

EVENT_CLASSES: tuple[type[Any], ...] = typing.get_args(Event)
ACTION_CLASSES: tuple[type[Any], ...] = typing.get_args(Action)
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- strategies

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
"""Values a JSON document can hold (no NaN: it is never equal to itself)."""

BASE_STRATEGIES: dict[Any, st.SearchStrategy[Any]] = {
    str: st.text(max_size=12),
    bool: st.booleans(),
    int: st.integers(),
    float: st.floats(allow_nan=False),
    Any: JSON_VALUES,
    type(None): st.none(),
}
"""The table: plain type hints and their strategies."""

_DEFERRED: dict[Any, st.SearchStrategy[Any]] = {}


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    """A strategy for values of ``hint``; TypeError for a hint nobody taught this test."""
    if hint in BASE_STRATEGIES:
        return BASE_STRATEGIES[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*map(strategy_for, args))
    if origin is Literal:
        return st.sampled_from(args)
    if origin is tuple and args[1:] == (Ellipsis,):
        return st.lists(strategy_for(args[0]), max_size=3).map(tuple)
    if origin in (list, Sequence):
        return st.lists(strategy_for(args[0]), max_size=3)
    if origin in (dict, Mapping):
        keys = st.integers(-1000, 10**6) if args[0] is int else strategy_for(args[0])
        return st.dictionaries(keys, strategy_for(args[1]), max_size=3)
    if typing.is_typeddict(hint):
        return _typed_dict_strategy(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        hints = typing.get_type_hints(hint)
        fields = {f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(hint) if f.init}
        return st.builds(hint, **fields)
    raise TypeError(f"no strategy for the type hint {hint!r}: add one to BASE_STRATEGIES")


def _typed_dict_strategy(hint: Any) -> st.SearchStrategy[Any]:
    if hint not in _DEFERRED:  # recursive TypedDicts (FlowSummary.subflows) refer to themselves

        def build() -> st.SearchStrategy[Any]:
            hints = typing.get_type_hints(hint)
            required = {k: strategy_for(v) for k, v in hints.items() if k in hint.__required_keys__}
            optional = {k: strategy_for(v) for k, v in hints.items() if k not in required}
            return st.fixed_dictionaries(required, optional=optional)

        _DEFERRED[hint] = st.deferred(build)
    return _DEFERRED[hint]


def test_strategy_table_fails_loudly_for_an_unknown_hint() -> None:
    with pytest.raises(TypeError, match="no strategy for the type hint"):
        strategy_for(complex)


# --------------------------------------------------------------------------- round trips


def _codec(obj: Any) -> tuple[Any, Any]:
    if isinstance(obj, EVENT_CLASSES):
        return wire.encode_event, wire.decode_event
    return wire.encode_action, wire.decode_action


@pytest.mark.parametrize("cls", EVENT_CLASSES + ACTION_CLASSES, ids=lambda cls: cls.__name__)
@PROPERTY
@given(data=st.data())
def test_every_event_and_action_round_trips(cls: type[Any], data: st.DataObject) -> None:
    obj = data.draw(strategy_for(cls))
    encode, decode = _codec(obj)
    envelope = encode(obj)
    assert envelope["v"] == wire.WIRE_VERSION
    assert envelope["kind"] == cls.__name__
    assert decode(envelope) == obj
    raw = wire.dumps(obj)
    assert wire.loads(raw) == obj
    assert wire.loads(raw.decode()) == obj
    assert json.loads(raw) == envelope  # the envelope is JSON-ready as it is


PLAN = SelectivePlan(("B",), True, False, {"f": {0: ("A",), 12: ("B", "C")}})


def test_selective_plan_reads_its_own_to_dict_layout() -> None:
    run = RunTask("f", "flow", "T", "f.1", None, {}, "q", selective=PLAN)
    body = wire.encode_action(run)["body"]
    assert body["selective"] == {
        "task_names": ["B"],
        "follow_subflows": True,
        "edges": {"f": {"0": ["A"], "12": ["B", "C"]}},
    }
    envelope = wire.encode_action(run)
    envelope["body"]["selective"] = PLAN.to_dict()
    assert wire.decode_action(envelope) == run


def test_plain_defaults_are_left_out_and_restored() -> None:
    run = RunTask("f", "flow", "T", "f.1", {"a": 1}, {"P": "f.0"}, "q")
    body = wire.encode_action(run)["body"]
    assert set(body) == {
        "flow_id",
        "flow_name",
        "task_name",
        "task_id",
        "node_args",
        "parent",
        "queue",
    }
    assert wire.decode_action(wire.encode_action(run)) == run
    retried = dataclasses.replace(run, attempt=3, nowait=True, throttle_s=0.5)
    assert wire.loads(wire.dumps(retried)) == retried


@dataclasses.dataclass(frozen=True, slots=True)
class FutureEvent:
    """An event as a later version may define it: more fields, all with defaults."""

    flow_id: str
    at: float
    attempt: int = 0
    error: ErrorSummary | None = None
    tags: tuple[str, ...] = ()
    labels: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def test_a_new_dataclass_needs_no_codec_change() -> None:
    codec = wire._ClassCodec(FutureEvent)
    full = FutureEvent("f", 1.0, 2, ErrorSummary("E", "m", "tb"), ("x",), {"a": ["b"]})
    assert codec.decode(json.loads(json.dumps(codec.encode(full)))) == full
    assert codec.decode({"flow_id": "f", "at": 1}) == FutureEvent("f", 1.0)  # an old sender


def test_encoding_rejects_what_is_not_a_message() -> None:
    with pytest.raises(TypeError, match="not an event"):
        wire.encode_event(RunTask("f", "flow", "T", "f.1", None, {}, "q"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a state delta"):
        wire.dumps({"x": 1})


# --------------------------------------------------------------------------- states and deltas

NODES = """\
tasks:
  - {name: A, import: app.tasks}
  - {name: B, import: app.tasks}
  - {name: C, import: app.tasks}
  - {name: W, import: app.tasks}
  - {name: J, import: app.tasks}
  - {name: Bad, import: app.tasks}
  - {name: Fix, import: app.tasks}
flows: [chain, fanout, outer, inner, fallback, retried]
global: {predicates_module: selinon_core.predicates}
"""

FLOWS = f"""\
flow-definitions:
  - name: chain
    edges:
      - {{from: , to: A}}
      - {{from: A, to: B}}
      - {{from: B, to: C}}
  - name: fanout
    edges:
      - {{from: , to: [A, B]}}
      - from: A
        to: W
        foreach: {{import: {__name__}, function: items}}
      - {{from: W, to: C}}
      - {{from: [A, B], to: J}}
  - name: outer
    propagate_parent: true
    propagate_node_args: true
    propagate_finished: true
    edges:
      - {{from: , to: A}}
      - {{from: A, to: inner}}
      - from: A
        to: inner
        foreach: {{import: {__name__}, function: items}}
      - {{from: inner, to: J}}
  - name: inner
    edges:
      - {{from: , to: B}}
      - {{from: B, to: C}}
  - name: fallback
    edges:
      - {{from: , to: [A, Bad]}}
      - {{from: Fix, to: C}}
    failures:
      - {{nodes: Bad, fallback: Fix}}
  - name: retried
    max_retry: 1
    edges:
      - {{from: , to: A}}
      - {{from: A, to: Bad}}
"""


def items(storage_pool: Any, node_args: Any) -> list[int]:
    """The foreach function of the flows above: ``node_args["n"]`` items."""
    del storage_pool
    return list(range(node_args["n"]))


@pytest.fixture(scope="module")
def dispatcher() -> Dispatcher:
    return Dispatcher(load_system_from_texts(NODES, [FLOWS], check_imports=False))


SCENARIOS: dict[str, dict[str, Any]] = {
    "chain": {"flow_name": "chain"},
    "foreach fan-out and join": {"flow_name": "fanout", "node_args": {"n": 4}},
    "sub-flows": {"flow_name": "outer", "node_args": {"n": 2}, "parent": {"X": "x.0"}},
    "failure with fallback": {"flow_name": "fallback", "fail": ("Bad",)},
    "failed fallback": {"flow_name": "fallback", "fail": ("Bad", "Fix")},
    "flow retry": {"flow_name": "retried", "fail": ("Bad",)},
}


def _json(data: Any) -> Any:
    return json.loads(json.dumps(data))


def _states(sim: Simulation) -> Iterator[tuple[FlowState | None, FlowState]]:
    """Every state a step produced, with the previous state of the same flow."""
    last: dict[str, FlowState] = {}
    for step in sim.steps:
        state = step.state
        yield last.get(state.flow_id), state
        last[state.flow_id] = state


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_state_and_delta_of_real_flows_round_trips(dispatcher: Dispatcher, name: str) -> None:
    sim = run_to_completion(dispatcher, **SCENARIOS[name])
    checked = 0
    for before, state in _states(sim):
        again = wire.loads(wire.dumps(state))
        assert isinstance(again, FlowState)
        assert _json(again.to_dict()) == _json(state.to_dict())
        assert wire.decode_state(wire.encode_state(state)).to_dict() == state.to_dict()
        if before is None or before is state:
            continue
        delta = state_delta(before, state)
        doc = wire.decode_state(_json(wire.encode_state(before))).to_dict()
        applied = apply_delta(doc, wire.decode_delta(_json(wire.encode_delta(delta))))
        assert _json(applied) == _json(state.to_dict())
        assert wire.loads(wire.dumps(delta)) == _json(delta)
        checked += 1
    assert checked >= 3


def test_states_of_a_selective_run_round_trip(dispatcher: Dispatcher) -> None:
    from selinon_core.dispatch.selective import plan_selective_run

    plan = plan_selective_run(dispatcher.system.spec, "chain", ["B"])
    sim = run_to_completion(dispatcher, "chain", {"x": [1]}, selective=plan, parent={"P": "p.0"})
    assert sim.task_names() == ["A", "B"]
    for _, state in _states(sim):
        assert state.selective == plan
        assert wire.loads(wire.dumps(state)) == state
    assert all(wire.loads(wire.dumps(run)) == run for run in sim.runs)


# --------------------------------------------------------------------------- malformed input


def _envelope(type_: str, kind: str, body: Any) -> dict[str, Any]:
    return {"v": 1, "type": type_, "kind": kind, "body": body}


def _event(kind: str, **body: Any) -> dict[str, Any]:
    return _envelope("event", kind, {"flow_id": "f", "node_id": "f.1", "at": 1.0, **body})


def _run(**body: Any) -> dict[str, Any]:
    run = {"flow_id": "f", "flow_name": "x", "task_name": "T", "task_id": "f.1", "node_args": None}
    return _envelope("action", "RunTask", {**run, "parent": {}, "queue": "q", **body})


def _state(**changes: Any) -> dict[str, Any]:
    return _envelope("state", "FlowState", {**FlowState("f", "flow").to_dict(), **changes})


def _delta(**body: Any) -> dict[str, Any]:
    return _envelope("delta", "StateDelta", {"from_version": 1, "version": 2, **body})


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


MALFORMED: list[tuple[Any, str]] = [
    (b"{", r"^malformed JSON"),
    (b"\xff\xfe\xfa", r"^malformed JSON"),
    ("", r"^malformed JSON"),
    (b"[1, 2]", r"expected a JSON object \(a message envelope\), got list"),
    ('"NodeSucceeded"', r"expected a JSON object .*got str"),
    (
        {**_event("NodeSucceeded"), "v": 99},
        r"unsupported wire version 99 \(supported versions: \[1\]\)",
    ),
    ({**_event("NodeSucceeded"), "v": "1"}, r"unsupported wire version '1' \(supported"),
    ({**_event("NodeSucceeded"), "v": True}, r"unsupported wire version True"),
    (_without(_event("NodeSucceeded"), "v"), r"no wire version 'v' \(supported versions: \[1\]\)"),
    (
        _without(_event("NodeSucceeded"), "body"),
        r"exactly the keys v, type, kind, body \(not 'body'\)",
    ),
    ({**_event("NodeSucceeded"), "extra": 1}, r"exactly the keys .*\(not 'extra'\)"),
    ({**_event("NodeSucceeded"), "type": "thing"}, r"unknown message type 'thing' \(known: event"),
    ({**_event("NodeSucceeded"), "type": ["event"]}, r"unknown message type \['event'\]"),
    (_event("NodeExploded"), r"unknown event kind 'NodeExploded' \(known: .*NodeSucceeded"),
    ({**_event("NodeSucceeded"), "type": "action"}, r"unknown action kind 'NodeSucceeded'"),
    (
        {**_event("NodeSucceeded"), "body": []},
        r"NodeSucceeded: expected an object \(NodeSucceeded\)",
    ),
    (
        _envelope("event", "NodeSucceeded", {"flow_id": "f", "at": 1}),
        r"missing required field\(s\) 'node_id'",
    ),
    (
        _event("NodeSucceeded", color="red"),
        r"unexpected field 'color' \(fields of NodeSucceeded: flow_id",
    ),
    (_event("NodeSucceeded", at="now"), r"NodeSucceeded: at: expected float, got str"),
    (_event("NodeSucceeded", at=False), r"at: expected float, got bool"),
    (_event("NodeSucceeded", at=10**400), r"at: .*OverflowError|NodeSucceeded: OverflowError"),
    (_event("NodeSucceeded", node_id=None), r"node_id: expected str, got null"),
    (
        _event("NodeFailed", error="boom"),
        r"NodeFailed: error: expected an object \(ErrorSummary\), got str",
    ),
    (_event("NodeFailed", error={"type": 1, "message": ""}), r"error\.type: expected str, got int"),
    (_event("NodeFailed", error={"type": "E"}), r"error: missing required field\(s\) 'message'"),
    (
        _event("SubflowFinished", summary={"status": "done"}),
        r"summary\.status: expected one of \['succeeded', 'failed'\]",
    ),
    (_event("SubflowFinished", summary={"colour": 1}), r"summary: unexpected field 'colour'"),
    (
        _event("SubflowFinished", summary={"subflows": {"s": {"failed_nodes": {"A": "s.0"}}}}),
        r"summary\.subflows\['s'\]\.failed_nodes\['A'\]: expected a list",
    ),
    (_run(parent=[]), r"RunTask: parent: expected an object, got list"),
    (_run(nowait="yes"), r"nowait: expected bool, got str"),
    (_run(attempt=1.5), r"attempt: expected int, got float"),
    (_run(attempt=True), r"attempt: expected int, got bool"),
    (_run(selective={"task_names": "B"}), r"selective\.task_names: expected a list, got str"),
    (
        _run(selective={"task_names": [], "edges": {"f": {"x": []}}}),
        r"selective\.edges\['f'\]: expected an int key, got 'x'",
    ),
    (
        _run(selective={"task_names": [], "edges": {"f": {"01": []}}}),
        r"expected an int key, got '01'",
    ),
    (_run(selective={"edges": {}}), r"selective: missing required field\(s\) 'task_names'"),
    (
        _envelope(
            "action",
            "FinishFlow",
            {"flow_id": "f", "flow_name": "x", "status": "done", "summary": {}},
        ),
        r"FinishFlow: status: expected one of",
    ),
    (
        _envelope("state", "FlowState", _without(FlowState("f", "x").to_dict(), "finished")),
        r"state FlowState: missing required field 'finished'",
    ),
    (_state(bogus=1), r"state FlowState: unexpected field 'bogus'"),
    (_state(flow_id=7), r"flow_id: expected str, got int"),
    (_state(status="sleeping"), r"status: expected one of"),
    (_state(active={"f.0": 3}), r"active\['f\.0'\]: expected str, got int"),
    (_state(finished=[["A", "f.0"]]), r"invalid flow state document: ValueError"),
    (_state(triggered=[10**9]), r"triggered: edge index out of range"),
    (_state(format=7), r"unknown flow state format 7"),
    (_state(selective={"task_names": 1}), r"selective\.task_names: expected a list"),
    (
        _envelope("delta", "StateDelta", {"version": 2}),
        r"missing required field\(s\) 'from_version'",
    ),
    (_delta(active_add={}), r"StateDelta: unexpected field 'active_add'"),
    (_delta(fields={"bogus": 1}), r"fields: unexpected field 'bogus'"),
    (_delta(fields={"seq": "3"}), r"fields\.seq: expected int, got str"),
    (_delta(log_append={}), r"log_append: expected a list, got dict"),
    (_delta(active_set={"f.1": 1}), r"active_set\['f\.1'\]: expected str"),
    (_delta(version="2"), r"StateDelta: version: expected int"),
]


@pytest.mark.parametrize(("data", "message"), MALFORMED, ids=[m for _, m in MALFORMED])
def test_malformed_input_is_a_wire_error(data: Any, message: str) -> None:
    raw = data if isinstance(data, bytes | str) else json.dumps(data)
    with pytest.raises(WireError, match=message):
        wire.loads(raw)
    if isinstance(data, dict) and str(data.get("type")) in DECODERS:  # the same, without JSON
        with pytest.raises(WireError, match=message):
            DECODERS[data["type"]](data)


DECODERS = {
    "event": wire.decode_event,
    "action": wire.decode_action,
    "state": wire.decode_state,
    "delta": wire.decode_delta,
}


def test_typed_decoders_refuse_other_types() -> None:
    succeeded = wire.encode_event(NodeSucceeded("f", "f.1", 1.0))
    with pytest.raises(WireError, match="expected a message of type 'action', got type 'event'"):
        wire.decode_action(succeeded)
    with pytest.raises(WireError, match="of type 'state'"):
        wire.decode_state(succeeded)
    with pytest.raises(WireError, match="expected a JSON object"):
        wire.decode_event(None)
    with pytest.raises(WireError, match="malformed JSON"):
        wire.loads(42)  # type: ignore[arg-type]


KINDS = {
    "event": [c.__name__ for c in EVENT_CLASSES],
    "action": [c.__name__ for c in ACTION_CLASSES],
}
KINDS.update(state=["FlowState"], delta=["StateDelta"])
FIELD_NAMES = sorted(
    {f.name for cls in (*EVENT_CLASSES, *ACTION_CLASSES) for f in dataclasses.fields(cls)}
    | set(FlowState("f", "x").to_dict())
    | {"from_version", "version", "fields", "active_set", "log_append", "task_names", "edges"}
)
FUZZED_ENVELOPES = st.sampled_from(sorted(KINDS)).flatmap(
    lambda type_: st.fixed_dictionaries(
        {
            "v": st.just(1),
            "type": st.just(type_),
            "kind": st.sampled_from(KINDS[type_]),
            "body": st.dictionaries(st.sampled_from(FIELD_NAMES), JSON_VALUES, max_size=8),
        }
    )
)


def _loads_or_wire_error(raw: bytes | str) -> None:
    with contextlib.suppress(WireError):
        wire.loads(raw)


@PROPERTY
@given(raw=st.binary(max_size=64) | st.text(max_size=64))
def test_arbitrary_bytes_decode_or_raise_wire_error(raw: bytes | str) -> None:
    _loads_or_wire_error(raw)


@settings(max_examples=150, deadline=None)
@given(value=JSON_VALUES | FUZZED_ENVELOPES)
def test_arbitrary_json_decodes_or_raises_wire_error(value: Any) -> None:
    _loads_or_wire_error(json.dumps(value))


# --------------------------------------------------------------------------- message sizes


def _late_messages(sim: Simulation) -> list[Any]:
    """The last task runs of a flow, their join, and the events that report their ends."""
    runs = [*sim.runs[-3:], *(run for run in sim.runs if run.task_name == "J")]
    error = ErrorSummary("ValueError", "boom", "Traceback (most recent call last): ...")
    events = [NodeSucceeded(r.flow_id, r.task_id, sim.now) for r in runs]
    return [*runs, *events, *(NodeFailed(r.flow_id, r.task_id, sim.now, error) for r in runs)]


def test_message_size_does_not_grow_with_the_flow(dispatcher: Dispatcher) -> None:
    small = run_to_completion(dispatcher, "fanout", {"n": 10})
    large = run_to_completion(dispatcher, "fanout", {"n": 10_000})
    assert large.status == small.status == "succeeded"
    assert len(large.runs) > 20_000
    args = len(json.dumps({"n": 10_000}))
    for little, big in zip(_late_messages(small), _late_messages(large), strict=True):
        assert type(little) is type(big)
        assert len(wire.dumps(big)) <= 2048 + args
        assert len(wire.dumps(big)) <= len(wire.dumps(little)) + 24  # a few more id digits
    assert isinstance(large.runs[-1], RunTask)
    assert large.runs[-1].parent == {"W": large.runs[-1].parent["W"]}  # one parent, not 10,000
    # A flow's summary lists every node it ran: FinishFlow (and SubflowFinished) grow with it.
    finish = large.finishes[-1]
    assert isinstance(finish, FinishFlow)
    assert len(wire.dumps(finish)) > 100 * len(wire.dumps(small.finishes[-1]))


@functools.cache
def _samples(dispatcher: Dispatcher) -> list[dict[str, Any]]:
    """Valid envelopes of every type, with real states and deltas."""
    sim = run_to_completion(dispatcher, "outer", {"n": 2}, fail=("C",), parent={"P": "p"})
    states = [wire.encode_state(state) for _, state in _states(sim)]
    deltas = [wire.encode_delta(state_delta(a, b)) for a, b in _states(sim) if a is not None]
    actions = [wire.encode_action(action) for step in sim.steps for action in step.actions]
    plan = wire.encode_event(FlowRequested("f", "chain", 1.0, {"a": 1}, {"P": "p"}, "x", PLAN))
    samples: list[dict[str, Any]] = _json([*states[-3:], *deltas[-3:], *actions, plan])
    return [*samples, _event("NodeFailed")]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_messages_decode_or_raise_wire_error(dispatcher: Dispatcher, data: Any) -> None:
    envelope = copy.deepcopy(data.draw(st.sampled_from(_samples(dispatcher))))
    parent: Any = envelope
    key: Any = "body"
    for _ in range(data.draw(st.integers(0, 3))):  # walk down to a random nested value
        child = parent[key]
        if not isinstance(child, dict | list) or not child:
            break
        keys = list(child) if isinstance(child, dict) else list(range(len(child)))
        parent, key = child, data.draw(st.sampled_from(keys))
    parent[key] = data.draw(JSON_VALUES)
    _loads_or_wire_error(json.dumps(envelope))
