"""Built-in predicates: a table of true and false cases for every one of them."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from selinon_core import predicates as p
from selinon_core.config.conditions import predicate_parameters

RESULT: dict[str, Any] = {
    "ok": True,
    "count": 3,
    "ratio": 0.5,
    "name": "selinon",
    "items": [1, 2, 3],
    "nothing": None,
    "nested": {"deep": {"value": 42, "url": "https://example.com:8080/a/b?q=1"}},
    "url": "http://example.org/path",
    "tags": ["a", "b"],
    "empty_list": [],
}

# (suffix, args, expected): run against fieldX(message=RESULT) and argsFieldX(node_args=RESULT)
FIELD_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("Exist", {"key": "ok"}, True),
    ("Exist", {"key": "nothing"}, True),
    ("Exist", {"key": ["nested", "deep", "value"]}, True),
    ("Exist", {"key": ("nested", "deep")}, True),
    ("Exist", {"key": "missing"}, False),
    ("Exist", {"key": ["nested", "missing"]}, False),
    ("Exist", {"key": ["name", "x"]}, False),  # str indexed by str: TypeError -> False
    ("Exist", {"key": ["items", 0]}, True),
    ("Exist", {"key": ["items", 7]}, False),
    ("Equal", {"key": "ok", "value": True}, True),
    ("Equal", {"key": "ok", "value": False}, False),
    ("Equal", {"key": ["nested", "deep", "value"], "value": 42}, True),
    ("Equal", {"key": "missing", "value": None}, False),
    ("NotEqual", {"key": "count", "value": 4}, True),
    ("NotEqual", {"key": "count", "value": 3}, False),
    ("NotEqual", {"key": "missing", "value": 3}, False),
    ("Greater", {"key": "count", "value": 2}, True),
    ("Greater", {"key": "count", "value": 3}, False),
    ("Greater", {"key": "name", "value": 3}, False),  # str > int raises -> False
    ("GreaterEqual", {"key": "count", "value": 3}, True),
    ("GreaterEqual", {"key": "count", "value": 4}, False),
    ("Less", {"key": "ratio", "value": 1}, True),
    ("Less", {"key": "ratio", "value": 0.5}, False),
    ("Less", {"key": "missing", "value": 1}, False),
    ("LessEqual", {"key": "ratio", "value": 0.5}, True),
    ("LessEqual", {"key": "ratio", "value": 0.4}, False),
    ("LenEqual", {"key": "items", "length": 3}, True),
    ("LenEqual", {"key": "items", "length": 2}, False),
    ("LenEqual", {"key": "count", "length": 1}, False),  # int has no len -> False
    ("LenEqual", {"key": "missing", "length": 0}, False),
    ("LenNotEqual", {"key": "items", "length": 2}, True),
    ("LenNotEqual", {"key": "items", "length": 3}, False),
    ("LenGreater", {"key": "name", "length": 6}, True),
    ("LenGreater", {"key": "name", "length": 7}, False),
    ("LenGreaterEqual", {"key": "tags", "length": 2}, True),
    ("LenGreaterEqual", {"key": "tags", "length": 1}, True),
    ("LenGreaterEqual", {"key": "tags", "length": 3}, False),  # Selinon's bug gave True here
    ("LenLess", {"key": "empty_list", "length": 1}, True),
    ("LenLess", {"key": "tags", "length": 2}, False),
    ("LenLessEqual", {"key": "tags", "length": 2}, True),
    ("LenLessEqual", {"key": "tags", "length": 3}, True),
    ("LenLessEqual", {"key": "tags", "length": 1}, False),
    ("Bool", {"key": "ok"}, True),
    ("Bool", {"key": "count"}, False),
    ("Bool", {"key": "missing"}, False),
    ("Dict", {"key": "nested"}, True),
    ("Dict", {"key": "items"}, False),
    ("Float", {"key": "ratio"}, True),
    ("Float", {"key": "count"}, False),
    ("Int", {"key": "count"}, True),
    ("Int", {"key": "ok"}, True),  # bool is an int, as in Python
    ("Int", {"key": "ratio"}, False),
    ("List", {"key": "items"}, True),
    ("List", {"key": "name"}, False),
    ("Str", {"key": "name"}, True),
    ("Str", {"key": "count"}, False),
    ("None", {"key": "nothing"}, True),
    ("None", {"key": "missing"}, False),  # a missing key is not a None value
    ("None", {"key": "ok"}, False),
    ("Contain", {"key": "tags", "value": "a"}, True),
    ("Contain", {"key": "name", "value": "lin"}, True),
    ("Contain", {"key": "tags", "value": "z"}, False),
    ("Contain", {"key": "count", "value": 3}, False),  # `in` on an int raises -> False
    ("Contain", {"key": "missing", "value": 3}, False),
    ("UrlNetloc", {"key": ["nested", "deep", "url"], "netloc": "example.com:8080"}, True),
    ("UrlNetloc", {"key": "url", "netloc": "example.com"}, False),
    ("UrlNetloc", {"key": "count", "netloc": "example.com"}, False),
    ("UrlNetloc", {"key": "missing", "netloc": "example.com"}, False),
    ("UrlPath", {"key": "url", "path": "/path"}, True),
    ("UrlPath", {"key": "url", "path": "/other"}, False),
    ("UrlScheme", {"key": "url", "scheme": "http"}, True),
    ("UrlScheme", {"key": ["nested", "deep", "url"], "scheme": "http"}, False),
]


@pytest.mark.parametrize(("suffix", "args", "expected"), FIELD_CASES)
def test_field_predicate_reads_the_result(
    suffix: str, args: dict[str, Any], expected: bool
) -> None:
    assert getattr(p, f"field{suffix}")(message=RESULT, **args) is expected


@pytest.mark.parametrize(("suffix", "args", "expected"), FIELD_CASES)
def test_args_field_predicate_reads_the_flow_arguments(
    suffix: str, args: dict[str, Any], expected: bool
) -> None:
    assert getattr(p, f"argsField{suffix}")(node_args=RESULT, **args) is expected


@pytest.mark.parametrize("suffix", sorted({case[0] for case in FIELD_CASES}))
@pytest.mark.parametrize("container", [None, 42, "text", [], object()])
def test_field_predicates_never_raise_on_odd_containers(suffix: str, container: Any) -> None:
    args = next(args for s, args, _ in FIELD_CASES if s == suffix)
    assert getattr(p, f"field{suffix}")(message=container, **args) is False


def test_invalid_url_is_false_not_an_error() -> None:
    # urlparse rejects a malformed IPv6 netloc with ValueError
    assert p.fieldUrlNetloc(message={"u": "http://[::1"}, key="u", netloc="::1") is False


def test_comparison_whose_result_cannot_be_a_bool_is_false() -> None:
    class Weird:
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no")

        __hash__ = object.__hash__

    assert p.fieldEqual(message={"w": Weird()}, key="w", value=1) is False


# (predicate, value, expected) for the predicates over the whole result / flow arguments
WHOLE_CASES: list[tuple[str, Any, bool]] = [
    ("Bool", True, True),
    ("Bool", 1, False),
    ("Dict", {}, True),
    ("Dict", [], False),
    ("Float", 1.0, True),
    ("Float", 1, False),
    ("Int", 1, True),
    ("Int", False, True),
    ("Int", "1", False),
    ("List", [], True),
    ("List", (), False),
    ("None", None, True),
    ("None", 0, False),
    ("Str", "", True),
    ("Str", b"", False),
]


@pytest.mark.parametrize(("suffix", "value", "expected"), WHOLE_CASES)
def test_type_checks(suffix: str, value: Any, expected: bool) -> None:
    assert getattr(p, f"is{suffix}")(message=value) is expected
    assert getattr(p, f"argsIs{suffix}")(node_args=value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        ({}, True),
        ([], True),
        ("", True),
        ({"a": 1}, False),
        ([0], False),
        ("x", False),
        (0, False),  # a number is a value, not an empty container
        (False, False),
    ],
)
def test_empty_is_true_when_the_value_is_empty(value: Any, expected: bool) -> None:
    assert p.empty(message=value) is expected
    assert p.argsEmpty(node_args=value) is expected


def test_constants() -> None:
    assert p.alwaysTrue() is True
    assert p.alwaysFalse() is False


def test_env_predicates_read_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELINON_TEST_PRED", "yes")
    monkeypatch.delenv("SELINON_TEST_ABSENT", raising=False)
    assert p.envExist(env="SELINON_TEST_PRED") is True
    assert p.envExist(env="SELINON_TEST_ABSENT") is False
    assert p.envEqual(env="SELINON_TEST_PRED", value="yes") is True
    assert p.envEqual(env="SELINON_TEST_PRED", value="no") is False
    assert p.envEqual(env="SELINON_TEST_ABSENT", value="yes") is False


def test_http_status_asks_its_port_and_needs_one() -> None:
    asked: list[tuple[str, str]] = []

    def probe(*, host: str, path: str) -> int | None:
        asked.append((host, path))
        return 404

    assert p.httpStatus("h:8080", "/a", 404, http_probe=probe) is True
    assert p.httpStatus("h:8080", "/a", "200", http_probe=probe) is False
    assert asked == [("h:8080", "/a"), ("h:8080", "/a")]
    with pytest.raises(RuntimeError, match="needs an HTTP port"):
        p.httpStatus(host="localhost", path="/", status=200)


def test_star_import_exports_exactly_the_predicates() -> None:
    namespace: dict[str, Any] = {}
    exec("from selinon_core.predicates import *", namespace)
    exported = {name for name in namespace if name != "__builtins__"}
    defined = {
        name
        for name, value in vars(p).items()
        if inspect.isfunction(value) and value.__module__ == p.__name__ and not name.startswith("_")
    }
    assert exported == defined == set(p.__all__)
    assert len(exported) == 69


def test_selinon_parameter_names_are_kept() -> None:
    assert list(inspect.signature(p.fieldUrlNetloc).parameters) == ["message", "key", "netloc"]
    assert list(inspect.signature(p.argsFieldLenLess).parameters) == [
        "node_args",
        "key",
        "length",
    ]
    assert list(inspect.signature(p.envEqual).parameters) == ["env", "value"]
    assert list(inspect.signature(p.httpStatus).parameters) == [
        "host",
        "path",
        "status",
        "http_probe",
    ]


@pytest.mark.parametrize("name", sorted(set(p.__all__) - {"httpStatus"}))
def test_every_predicate_has_consistent_injected_parameters(name: str) -> None:
    params = predicate_parameters(getattr(p, name))
    assert not (params.uses_message and params.uses_node_args)
    if name.startswith(("field", "is", "empty")):
        assert params.uses_message
    if name.startswith("args"):
        assert params.uses_node_args
    assert not params.optional
    assert getattr(p, name).__doc__
