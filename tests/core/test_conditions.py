"""Condition compilation and evaluation."""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selinon_core.config.conditions import (
    CompiledCondition,
    ConditionError,
    PredicateParams,
    compile_condition,
    predicate_parameters,
    render_condition,
)
from selinon_core.config.spec import ALWAYS_TRUE, AllOf, AnyOf, Condition, EdgeSpec, Not, Predicate
from selinon_core.config.system import System
from selinon_core.errors import ResultMissing, SpecError, TransientBackendError


@dataclass
class Ctx:
    """A ConditionContext over a dict of results, recording what was read."""

    results: dict[str, Any] = field(default_factory=dict)
    node_args: Any = None
    read: list[str] = field(default_factory=list)

    def message(self, node: str) -> Any:
        self.read.append(node)
        if node not in self.results:
            raise ResultMissing(node)
        return self.results[node]


def cond(data: Any) -> Condition:
    """Parse a condition as the configuration model does (through an edge)."""
    return EdgeSpec.model_validate({"from": "A", "to": "B", "condition": data}).condition


@pytest.fixture(scope="module")
def lookup() -> Callable[[str], Callable[..., Any]]:
    """The built-in predicates, looked up as the System does (default predicates module)."""
    return System.from_dict({"tasks": [], "flows": {}}).predicate


# --------------------------------------------------------------------------- compile + evaluate


def test_leaf_reads_the_single_source_by_default(lookup: Any) -> None:
    compiled = compile_condition(
        cond({"name": "fieldEqual", "args": {"key": "ok", "value": True}}),
        lookup,
        default_node="Task1",
    )
    assert compiled.text == "fieldEqual(message('Task1'), key='ok', value=True)"
    assert compiled.nodes == frozenset({"Task1"})
    assert compiled.evaluate(Ctx({"Task1": {"ok": True}})) is True
    assert compiled.evaluate(Ctx({"Task1": {"ok": False}})) is False


def test_leaf_node_overrides_the_default_and_may_be_a_subflow_path(lookup: Any) -> None:
    compiled = compile_condition(
        cond(
            {
                "or": [
                    {"name": "fieldExist", "node": "flow2/Task3", "args": {"key": ["a", "b"]}},
                    {"name": "isNone", "node": "Task2"},
                ]
            }
        ),
        lookup,
        default_node=None,
    )
    assert compiled.nodes == frozenset({"flow2/Task3", "Task2"})
    assert compiled.text == (
        "or(fieldExist(message('flow2/Task3'), key=['a', 'b']), isNone(message('Task2')))"
    )
    ctx = Ctx({"flow2/Task3": {"a": {"b": 1}}, "Task2": 0})
    assert compiled.evaluate(ctx) is True
    assert ctx.read == ["flow2/Task3"]  # `or` stopped at the first true child
    ctx = Ctx({"flow2/Task3": {"a": {}}, "Task2": None})
    assert compiled.evaluate(ctx) is True
    assert ctx.read == ["flow2/Task3", "Task2"]


def test_node_args_are_injected(lookup: Any) -> None:
    compiled = compile_condition(
        cond({"not": {"name": "argsFieldEqual", "args": {"key": "mode", "value": "fast"}}}),
        lookup,
        default_node="A",
    )
    assert compiled.text == "not(argsFieldEqual(node_args, key='mode', value='fast'))"
    assert compiled.nodes == frozenset()  # reads no result, whatever default_node is
    assert compiled.evaluate(Ctx(node_args={"mode": "fast"})) is False
    assert compiled.evaluate(Ctx(node_args={"mode": "slow"})) is True


def test_default_condition_is_always_true(lookup: Any) -> None:
    compiled = compile_condition(ALWAYS_TRUE, lookup, default_node=None)
    assert compiled.text == "alwaysTrue()"
    assert compiled.nodes == frozenset()
    assert compiled.evaluate(Ctx()) is True


def test_predicate_with_both_injections_and_optional_args() -> None:
    def custom(message: Any, node_args: Any, key: str, default: int = 0) -> int:
        return int(message.get(key, default)) + int(node_args)

    predicates = {"custom": custom}
    compiled = compile_condition(
        cond({"name": "custom", "node": "T", "args": {"key": "n"}}),
        predicates.__getitem__,
        default_node=None,
    )
    assert compiled.text == "custom(message('T'), node_args, key='n')"
    assert compiled.evaluate(Ctx({"T": {"n": 2}}, node_args=-2)) is False  # bool(0)
    assert compiled.evaluate(Ctx({"T": {}}, node_args=1)) is True


def test_predicate_taking_kwargs_accepts_any_args() -> None:
    def anything(**kwargs: Any) -> bool:
        return kwargs == {"a": 1, "b": [2]}

    compiled = compile_condition(
        cond({"name": "anything", "args": {"a": 1, "b": [2]}}),
        {"anything": anything}.__getitem__,
        default_node=None,
    )
    assert compiled.evaluate(Ctx()) is True


def test_compiled_condition_repr_and_equality_ignore_the_closure(lookup: Any) -> None:
    first = compile_condition(ALWAYS_TRUE, lookup, default_node=None)
    second = compile_condition(ALWAYS_TRUE, lookup, default_node="X")
    assert first == second
    assert repr(first) == "CompiledCondition(text='alwaysTrue()', nodes=frozenset())"
    assert isinstance(first, CompiledCondition)


# --------------------------------------------------------------------------- errors at run time


def test_a_raising_predicate_is_wrapped_in_condition_error() -> None:
    def broken(message: Any) -> bool:
        return bool(message["missing"])

    compiled = compile_condition(
        cond({"name": "broken"}), {"broken": broken}.__getitem__, default_node="T1"
    )
    with pytest.raises(ConditionError) as info:
        compiled.evaluate(Ctx({"T1": {}}))
    error = info.value
    assert error.predicate == "broken"
    assert isinstance(error.cause, KeyError)
    assert error.__cause__ is error.cause
    assert error.condition == "broken(message('T1'))"
    assert "predicate 'broken' raised KeyError" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.predicate, copy.condition, str(copy)) == (
        error.predicate,
        error.condition,
        str(error),
    )


def test_a_result_without_truth_value_is_a_condition_error() -> None:
    class NoBool:
        def __bool__(self) -> bool:
            raise TypeError("ambiguous")

    compiled = compile_condition(
        cond({"name": "odd"}), {"odd": NoBool}.__getitem__, default_node=None
    )
    with pytest.raises(ConditionError, match="ambiguous"):
        compiled.evaluate(Ctx())


@pytest.mark.parametrize("exc_type", [TransientBackendError, ResultMissing])
def test_storage_errors_from_a_predicate_propagate_unchanged(exc_type: type[Exception]) -> None:
    def reads_storage(node_args: Any) -> bool:
        raise exc_type("storage trouble")

    compiled = compile_condition(
        cond({"name": "reads_storage"}),
        {"reads_storage": reads_storage}.__getitem__,
        default_node=None,
    )
    with pytest.raises(exc_type, match="storage trouble"):
        compiled.evaluate(Ctx())


def test_a_missing_result_propagates_unchanged(lookup: Any) -> None:
    compiled = compile_condition(cond({"name": "isDict"}), lookup, default_node="T1")
    with pytest.raises(ResultMissing):
        compiled.evaluate(Ctx({}))


def test_a_transient_error_reading_the_result_propagates_unchanged(lookup: Any) -> None:
    class Down(Ctx):
        def message(self, node: str) -> Any:
            raise TransientBackendError("redis is down")

    compiled = compile_condition(cond({"name": "isDict"}), lookup, default_node="T1")
    with pytest.raises(TransientBackendError):
        compiled.evaluate(Down())


# --------------------------------------------------------------------------- compile errors


def _problems(exc: pytest.ExceptionInfo[SpecError]) -> list[str]:
    return [problem.message for problem in exc.value.problems]


def test_unknown_predicate_is_a_spec_error(lookup: Any) -> None:
    with pytest.raises(SpecError) as info:
        compile_condition(cond({"name": "fieldEqul"}), lookup, default_node="T")
    assert _problems(info)[0].startswith("unknown predicate 'fieldEqul'")
    assert "has no attribute 'fieldEqul'" in _problems(info)[0]


def test_lookup_raising_anything_is_reported_as_unknown() -> None:
    empty: dict[str, Callable[..., Any]] = {}
    with pytest.raises(SpecError) as info:
        compile_condition(cond({"name": "nope"}), empty.__getitem__, default_node=None)
    assert _problems(info) == ["unknown predicate 'nope': KeyError: 'nope'"]


def test_non_callable_predicate() -> None:
    not_callable: dict[str, Any] = {"x": 42}
    with pytest.raises(SpecError, match="predicate 'x' is not callable"):
        compile_condition(cond({"name": "x"}), not_callable.__getitem__, default_node=None)


class _Ctx:
    """A condition context with an HTTP port (recording what it was asked)."""

    node_args = None

    def __init__(self, status: int | None) -> None:
        self.status = status
        self.asked: list[tuple[str, str]] = []

    def message(self, node: str) -> Any:
        raise AssertionError(node)

    def http_probe(self, *, host: str, path: str) -> int | None:
        self.asked.append((host, path))
        return self.status


def test_http_status_gets_the_context_http_port(lookup: Any) -> None:
    leaf = {"name": "httpStatus", "args": {"host": "h", "path": "/x", "status": 200}}
    compiled = compile_condition(cond(leaf), lookup, default_node=None)
    params = predicate_parameters(lookup("httpStatus"))
    assert params.uses_http_probe
    assert params.required == {"host", "path", "status"}
    ok, missing = _Ctx(200), _Ctx(None)
    assert compiled.evaluate(ok) is True
    assert compiled.evaluate(missing) is False
    assert ok.asked == missing.asked == [("h", "/x")]


def test_http_port_cannot_be_given_in_args(lookup: Any) -> None:
    leaf = {"name": "httpStatus", "args": {"host": "h", "path": "/", "status": 200}}
    leaf["args"]["http_probe"] = "x"
    with pytest.raises(SpecError, match="unexpected args"):
        compile_condition(cond(leaf), lookup, default_node=None)


def test_missing_and_unexpected_args(lookup: Any) -> None:
    with pytest.raises(SpecError) as info:
        compile_condition(
            cond({"name": "fieldEqual", "args": {"key": "a", "length": 3, "message": 1}}),
            lookup,
            default_node="T",
        )
    assert _problems(info) == [
        "predicate 'fieldEqual': missing args ['value']",
        "predicate 'fieldEqual': unexpected args ['length', 'message']",
    ]
    assert info.value.problems[1].hint is not None
    assert "filled in by the engine" in info.value.problems[1].hint


def test_injected_names_are_rejected_even_with_kwargs() -> None:
    def anything(**kwargs: Any) -> bool:
        return True

    with pytest.raises(SpecError, match=r"unexpected args \['node_args'\]"):
        compile_condition(
            cond({"name": "anything", "args": {"node_args": 1}}),
            {"anything": anything}.__getitem__,
            default_node=None,
        )


def test_message_predicate_needs_a_node(lookup: Any) -> None:
    with pytest.raises(SpecError) as info:
        compile_condition(cond({"name": "isDict"}), lookup, default_node=None)
    assert _problems(info) == ["predicate 'isDict' reads a node result but no 'node' is given"]


def test_every_problem_of_a_tree_is_reported_at_once(lookup: Any) -> None:
    tree = {
        "and": [
            {"name": "unknownOne"},
            {"not": {"name": "fieldExist"}},
            {"or": [{"name": "alwaysTrue", "args": {"x": 1}}, {"name": "isStr", "node": "T"}]},
        ]
    }
    with pytest.raises(SpecError) as info:
        compile_condition(cond(tree), lookup, default_node=None)
    messages = _problems(info)
    assert len(messages) == 4
    assert messages[0].startswith("unknown predicate 'unknownOne'")
    assert messages[1:] == [
        "predicate 'fieldExist': missing args ['key']",
        "predicate 'fieldExist' reads a node result but no 'node' is given",
        "predicate 'alwaysTrue': unexpected args ['x']",
    ]


def test_positional_only_predicate_is_rejected() -> None:
    def positional(message, /):  # type: ignore[no-untyped-def]
        return True

    with pytest.raises(SpecError, match="positional-only parameter 'message'"):
        compile_condition(cond({"name": "p"}), {"p": positional}.__getitem__, default_node="T")


def test_uninspectable_predicate_is_rejected() -> None:
    with pytest.raises(SpecError, match="cannot inspect the parameters of predicate 'max'"):
        compile_condition(cond({"name": "m"}), {"m": max}.__getitem__, default_node=None)


# --------------------------------------------------------------------------- predicate_parameters


def test_predicate_parameters_of_builtins() -> None:
    from selinon_core import predicates

    assert predicate_parameters(predicates.fieldEqual) == PredicateParams(
        uses_message=True,
        uses_node_args=False,
        required=frozenset({"key", "value"}),
        optional=frozenset(),
    )
    assert predicate_parameters(predicates.argsEmpty) == PredicateParams(
        uses_message=False, uses_node_args=True, required=frozenset(), optional=frozenset()
    )
    assert predicate_parameters(predicates.envEqual).required == frozenset({"env", "value"})


def test_predicate_parameters_of_odd_signatures() -> None:
    def odd(first: int = 1, /, *args: Any, message: Any = None, limit: int, **rest: Any) -> bool:
        return True

    assert predicate_parameters(odd) == PredicateParams(
        uses_message=True,
        uses_node_args=False,
        required=frozenset({"limit"}),
        optional=frozenset(),
        any_keyword=True,
    )

    class Callable_:
        def __call__(self, node_args: Any, threshold: float = 0.5) -> bool:
            return True

    params = predicate_parameters(Callable_())
    assert params.uses_node_args
    assert params.optional == frozenset({"threshold"})
    assert params.check_args(frozenset({"threshold", "other"})) == (
        frozenset(),
        frozenset({"other"}),
    )


# --------------------------------------------------------------------------- rendering


def test_render_condition_shows_the_configuration() -> None:
    tree = cond(
        {
            "and": [
                {"name": "fieldEqual", "node": "T1", "args": {"key": ["a", 0], "value": None}},
                {"not": {"name": "argsEmpty"}},
                {"or": [{"name": "isDict"}, {"name": "alwaysFalse"}]},
            ]
        }
    )
    assert render_condition(tree) == (
        "and(fieldEqual(message('T1'), key=['a', 0], value=None), not(argsEmpty()), "
        "or(isDict(), alwaysFalse()))"
    )
    assert render_condition(ALWAYS_TRUE) == "alwaysTrue()"


# --------------------------------------------------------------------------- boolean semantics


LEAF_NAMES = ("p0", "p1", "p2", "p3")

trees = st.recursive(
    st.sampled_from(LEAF_NAMES).map(lambda name: Predicate(name=name)),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4).map(lambda cs: AllOf(and_=tuple(cs))),
        st.lists(children, min_size=1, max_size=4).map(lambda cs: AnyOf(or_=tuple(cs))),
        children.map(lambda c: Not(not_=c)),
    ),
    max_leaves=12,
)


def python_eval(tree: Condition, values: dict[str, bool], calls: list[str]) -> bool:
    """The reference: Python's own short-circuiting ``and``/``or``/``not``."""
    if isinstance(tree, AllOf):
        return functools.reduce(
            lambda acc, c: acc and python_eval(c, values, calls), tree.and_, True
        )
    if isinstance(tree, AnyOf):
        return functools.reduce(
            lambda acc, c: acc or python_eval(c, values, calls), tree.or_, False
        )
    if isinstance(tree, Not):
        return not python_eval(tree.not_, values, calls)
    calls.append(tree.name)
    return values[tree.name]


@given(tree=trees, values=st.fixed_dictionaries({n: st.booleans() for n in LEAF_NAMES}))
def test_and_or_not_follow_python_semantics(tree: Condition, values: dict[str, bool]) -> None:
    calls: list[str] = []

    def make(name: str) -> Callable[[], bool]:
        def predicate() -> bool:
            calls.append(name)
            return values[name]

        return predicate

    compiled = compile_condition(tree, make, default_node=None)
    expected_calls: list[str] = []
    expected = python_eval(tree, values, expected_calls)
    assert compiled.evaluate(Ctx()) is expected
    assert calls == expected_calls  # same short-circuit, left to right
    assert compiled.text == render_condition(tree)
