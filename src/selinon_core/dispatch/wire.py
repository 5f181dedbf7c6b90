"""Versioned JSON for everything that leaves a dispatcher: events, actions, states and deltas.

Every message is an *envelope*, a JSON object with exactly four keys::

    {"v": 1, "type": "event", "kind": "NodeFailed",
     "body": {"flow_id": "f", "node_id": "f.3", "at": 12.5,
              "error": {"type": "ValueError", "message": "boom"}}}

* ``v``: the wire version (:data:`WIRE_VERSION`); a reader refuses versions it does not know.
* ``type``: ``"event"``, ``"action"``, ``"state"`` or ``"delta"``.
* ``kind``: the class name of the event or action, ``"FlowState"`` for a state and
  ``"StateDelta"`` for a delta (:func:`~selinon_core.dispatch.delta.state_delta`).
* ``body``: an event's or action's fields by name (nested dataclasses become objects, tuples
  lists, integer keys strings); ``FlowState.to_dict()`` for a state; the delta for a delta.

Fields and types come from ``dataclasses.fields`` and type hints, read once at import: a new
field needs no change here.  A field equal to its plain default (``None``, ``False``, ``0``...)
is left out; a missing field with a default takes it.  Decoding is strict: it raises
:class:`~selinon_core.errors.WireError`, and nothing else, for bad JSON, an unknown version, type
or kind, a missing or unexpected field, a value of the wrong type.  ``Any`` values (``node_args``)
are neither checked nor copied: an envelope shares them with its object.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from typing import Any, Final, Literal, cast

from selinon_core.dispatch.actions import Action
from selinon_core.dispatch.events import ErrorSummary, Event
from selinon_core.dispatch.state import FlowState
from selinon_core.errors import WireError, describe_error

__all__ = [
    "SUPPORTED_VERSIONS",
    "WIRE_VERSION",
    "Message",
    "decode_action",
    "decode_delta",
    "decode_event",
    "decode_state",
    "dumps",
    "encode",
    "encode_action",
    "encode_delta",
    "encode_event",
    "encode_state",
    "loads",
]

WIRE_VERSION: Final = 1  # the envelope version this code writes
SUPPORTED_VERSIONS: Final = frozenset({1})  # the envelope versions this code reads
Message = Event | Action | FlowState | dict[str, Any]  # what an envelope holds (dict: a delta)

_Fn = Callable[[Any], Any]
_Conv = tuple[_Fn | None, _Fn | None]  # (encode, decode) of one type hint; None: as it is
_ENVELOPE: Final = frozenset({"v", "type", "kind", "body"})
_SCALARS: Final = (str, bool, int, float)
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_IDS = dict[str, list[str]]
_SECTIONS: Final[dict[str, Any]] = {"active": dict[str, str], "tracked": _IDS, "failed": _IDS}
_SECTIONS.update(finished=list[list[Any]], triggered=list[int], errors=dict[str, ErrorSummary])


class _Invalid(WireError):
    """A problem at ``path`` inside a body; :func:`_decode` turns it into a plain WireError."""

    def __init__(self, problem: str, path: str = "") -> None:
        super().__init__(problem)
        self.problem, self.path = problem, path


def _at(dec: _Fn, value: Any, step: str, key: Any) -> Any:
    try:
        return dec(value)
    except _Invalid as exc:
        raise _Invalid(exc.problem, step.format(key) + exc.path) from None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _need(value: Any, types_: type | types.UnionType, what: str) -> None:
    if not isinstance(value, types_):
        raise _Invalid(f"expected {what}, got {_kind(value)}")


def _dec_scalar(accept: type, value: Any) -> Any:
    if type(value) is accept or (isinstance(value, accept) and not isinstance(value, bool)):
        return value
    if accept is float and type(value) is int:
        return float(value)  # OverflowError beyond floats: see _decode
    raise _Invalid(f"expected {accept.__name__}, got {_kind(value)}")


_CONVS: dict[Any, _Conv] = {t: (None, functools.partial(_dec_scalar, t)) for t in _SCALARS}
_CONVS[Any] = (None, None)


def _conv(hint: Any) -> _Conv:
    """The (encode, decode) pair of ``hint``, cached; TypeError when the wire cannot carry it."""
    found = _CONVS.get(hint)
    if found is None:
        found = _CONVS[hint] = _build(hint)
    return found


def _build(hint: Any) -> _Conv:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        enc, dec = _conv(args[1] if args[0] is type(None) else args[0])
        return (
            None if enc is None else (lambda v: None if v is None else enc(v)),
            None if dec is None else (lambda v: None if v is None else dec(v)),
        )
    if origin is Literal:
        return None, functools.partial(_dec_literal, args)
    if origin in (list, Sequence) or (origin is tuple and args[1:] == (Ellipsis,)):
        return _sequence(_conv(args[0]), as_tuple=origin is tuple)
    if origin in (dict, Mapping) and args[0] in (str, int):
        return _mapping(_conv(args[1]), int_keys=args[0] is int)
    if typing.is_typeddict(hint):
        return _typed_dict(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        codec = _ClassCodec(hint)
        return codec.encode, codec.decode
    raise TypeError(f"selinon_core.dispatch.wire cannot carry values of type {hint!r}")


def _dec_literal(allowed: tuple[Any, ...], value: Any) -> Any:
    if not any(type(value) is type(option) and value == option for option in allowed):
        raise _Invalid(f"expected one of {list(allowed)!r}, got {value!r:.60}")
    return value


def _sequence(item: _Conv, *, as_tuple: bool) -> _Conv:
    ienc, idec = item

    def dec(value: Any) -> Any:
        _need(value, list | tuple, "a list")
        if idec is not None:
            value = [_at(idec, x, "[{}]", i) for i, x in enumerate(value)]
        return tuple(value) if as_tuple else list(value)

    def enc(value: Any) -> list[Any]:
        return [x if ienc is None else ienc(x) for x in value]

    return None if ienc is None and not as_tuple else enc, dec


def _key(key: Any, int_keys: bool) -> Any:
    if int_keys and isinstance(key, str) and key.isascii() and key.removeprefix("-").isdigit():
        key = int(key) if len(key) < 30 and str(int(key)) == key else key
    if type(key) is (int if int_keys else str):
        return key
    raise _Invalid(f"expected {'an int' if int_keys else 'a str'} key, got {key!r:.40}")


def _mapping(value: _Conv, *, int_keys: bool) -> _Conv:
    venc, vdec = value

    def dec(data: Any) -> dict[Any, Any]:
        _need(data, dict, "an object")
        return {
            _key(k, int_keys): x if vdec is None else _at(vdec, x, "[{!r}]", k)
            for k, x in data.items()
        }

    def enc(data: Mapping[Any, Any]) -> dict[Any, Any]:
        return {str(k) if int_keys else k: v if venc is None else venc(v) for k, v in data.items()}

    return None if venc is None and not int_keys else enc, dec


def _fields(body: Any, decoders: Mapping[str, _Fn | None], required: Any, name: str) -> Any:
    """The decoded fields of an object; _Invalid for a missing, unexpected or mistyped one."""
    _need(body, dict, f"an object ({name})")
    out = {}
    for key, value in body.items():
        if key not in decoders:
            known = ", ".join(decoders)
            raise _Invalid(f"unexpected field {key!r:.60} (fields of {name}: {known})")
        dec = decoders[key]
        out[key] = value if dec is None else _at(dec, value, ".{}", key)
    missing = [key for key in required if key not in out]
    if missing:
        raise _Invalid(f"missing required field(s) {', '.join(map(repr, missing))} of {name}")
    return out


def _typed_dict(hint: Any) -> _Conv:
    """A TypedDict is JSON already: its fields are checked (recursively), never converted."""
    _CONVS[hint] = (None, lambda v: _CONVS[hint][1](v))  # type: ignore[misc]  # noqa: PLW0108
    try:
        fields = {name: _conv(sub)[1] for name, sub in typing.get_type_hints(hint).items()}
    finally:
        del _CONVS[hint]
    required, name = hint.__required_keys__, hint.__name__
    return None, lambda data: (_fields(data, fields, required, name), data)[1]


class _ClassCodec:
    """Encodes and decodes one dataclass by its fields and their type hints (read once)."""

    def __init__(self, cls: type[Any]) -> None:
        hints, fields = typing.get_type_hints(cls), [f for f in dataclasses.fields(cls) if f.init]
        convs = {f.name: _conv(hints[f.name]) for f in fields}
        self.cls, self.kind, self.names = cls, cls.__name__, tuple(convs)
        self.get: _Fn = attrgetter(*self.names, "__class__")  # always a tuple
        self.encoders = [(name, enc) for name, (enc, _) in convs.items() if enc is not None]
        self.decoders = {name: dec for name, (_, dec) in convs.items()}
        self.defaults = [
            (f.name, f.default) for f in fields if type(f.default) in (type(None), *_SCALARS)
        ]
        none = dataclasses.MISSING
        self.required = [f.name for f in fields if f.default is none and f.default_factory is none]

    def encode(self, obj: Any) -> dict[str, Any]:
        body = dict(zip(self.names, self.get(obj), strict=False))
        for name, default in self.defaults:
            value = body[name]
            if value is default or (type(value) is type(default) and value == default):
                del body[name]
        for name, enc in self.encoders:
            if name in body:
                body[name] = enc(body[name])
        return body

    def decode(self, body: Any) -> Any:
        kwargs = _fields(body, self.decoders, self.required, self.kind)
        try:
            return self.cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise _Invalid(f"cannot build {self.kind}: {describe_error(exc)}") from None


_EVENTS: Final = {cls.__name__: _ClassCodec(cls) for cls in typing.get_args(Event)}
_ACTIONS: Final = {cls.__name__: _ClassCodec(cls) for cls in typing.get_args(Action)}
_KINDS: Final = {"event": _EVENTS, "action": _ACTIONS}
_BY_CLASS: Final = {c.cls: (type_, c) for type_, cs in _KINDS.items() for c in cs.values()}


@functools.cache
def _state_checks() -> dict[str, _Fn | None]:
    """Per key of a state document, its check: by _SECTIONS, or by type hint if stored as is."""
    blank = FlowState("", "")
    doc, hints = blank.to_dict(), typing.get_type_hints(FlowState)
    checks: dict[str, _Fn | None] = dict.fromkeys(doc)
    for field in dataclasses.fields(FlowState):
        value, form = getattr(blank, field.name), doc.get(field.name, dataclasses.MISSING)
        if type(form) is type(value) and form == value:
            with contextlib.suppress(TypeError):
                checks[field.name] = _conv(hints[field.name])[1]
    checks.update((key, _conv(hint)[1]) for key, hint in _SECTIONS.items() if key in doc)
    return checks


@functools.cache
def _delta_checks() -> dict[str, _Fn | None]:
    """Per key of a state delta (layout in :mod:`~selinon_core.dispatch.delta`), its check."""
    ints, log, ids = _conv(int)[1], _conv(_SECTIONS["finished"])[1], _conv(_IDS)[1]
    checks: dict[str, _Fn | None] = {"from_version": ints, "version": ints, "log_append": log}
    checks.update(log_reset=log, triggered_add=_conv(list[int])[1], tracked_append=ids)
    checks["fields"] = lambda fields: _fields(fields, _state_checks(), (), "a state document")
    for key, value in FlowState("", "").to_dict().items():
        if isinstance(value, dict):  # a section the delta edits with <key>_set and <key>_del
            checks[f"{key}_set"] = _conv(_SECTIONS.get(key, dict[str, Any]))[1]
            checks[f"{key}_del"] = _conv(list[str])[1]
    return checks


def _decode_state(body: Any) -> FlowState:
    _fields(body, _state_checks(), (), "FlowState document")
    if any(not 0 <= index < 1 << 16 for index in body.get("triggered", ())):
        raise _Invalid("edge index out of range", ".triggered")  # 1 << index: keep it small
    try:
        return FlowState.from_dict(body)
    except KeyError as exc:
        raise _Invalid(f"missing required field {exc.args[0]!r:.60}") from None
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        raise _Invalid(f"invalid flow state document: {describe_error(exc)}") from None


def _decode_delta(body: Any) -> dict[str, Any]:
    _fields(body, _delta_checks(), ("from_version", "version"), "StateDelta")
    return dict(body)


_DECODERS: Final = {t: {k: c.decode for k, c in cs.items()} for t, cs in _KINDS.items()}
_DECODERS.update(state={"FlowState": _decode_state}, delta={"StateDelta": _decode_delta})


def _decode(data: Any, expected: str | None) -> Any:
    """Check an envelope (of type ``expected`` unless None) and decode its body."""
    if not isinstance(data, dict):
        raise WireError(f"expected a JSON object (a message envelope), got {_kind(data)}")
    version = data.get("v")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        got = f"unsupported wire version {version!r:.40}" if "v" in data else "no wire version 'v'"
        raise WireError(f"{got} (supported versions: {sorted(SUPPORTED_VERSIONS)})")
    if data.keys() != _ENVELOPE:
        odd = ", ".join(sorted(map(repr, data.keys() ^ _ENVELOPE)))
        raise WireError(f"an envelope has exactly the keys v, type, kind, body (not {odd:.200})")
    type_, kind = data["type"], data["kind"]
    if not isinstance(type_, str) or type_ not in _DECODERS:
        raise WireError(f"unknown message type {type_!r:.60} (known: {', '.join(_DECODERS)})")
    if expected is not None and type_ != expected:
        raise WireError(f"expected a message of type {expected!r}, got type {type_!r}")
    if not isinstance(kind, str) or kind not in _DECODERS[type_]:
        known = ", ".join(sorted(_DECODERS[type_]))
        raise WireError(f"unknown {type_} kind {kind!r:.60} (known: {known})")
    try:
        return _DECODERS[type_][kind](data["body"])
    except _Invalid as exc:
        where = f"{exc.path.lstrip('.')}: " if exc.path else ""
        raise WireError(f"cannot decode {type_} {kind}: {where}{exc.problem}") from None
    except (RecursionError, OverflowError) as exc:  # deep nesting, a number beyond floats
        raise WireError(f"cannot decode {type_} {kind}: {describe_error(exc)}") from None


def _encode_as(type_: str, obj: Any) -> dict[str, Any]:
    found = _BY_CLASS.get(type(obj))
    if found is None or found[0] != type_:
        raise TypeError(f"not an {type_}: {type(obj).__name__}")
    return {"v": WIRE_VERSION, "type": type_, "kind": found[1].kind, "body": found[1].encode(obj)}


def encode_event(event: Event) -> dict[str, Any]:
    """The envelope of ``event`` (JSON-ready; it shares ``Any`` values such as ``node_args``)."""
    return _encode_as("event", event)


def decode_event(data: Any) -> Event:
    """The event in an envelope; WireError for anything but a valid event envelope."""
    return cast(Event, _decode(data, "event"))


def encode_action(action: Action) -> dict[str, Any]:
    """The envelope of ``action`` (JSON-ready; it shares ``Any`` values such as ``node_args``)."""
    return _encode_as("action", action)


def decode_action(data: Any) -> Action:
    """The action in an envelope; WireError for anything but a valid action envelope."""
    return cast(Action, _decode(data, "action"))


def encode_state(state: FlowState) -> dict[str, Any]:
    """The envelope of a flow state; its body is ``state.to_dict()``."""
    return {"v": WIRE_VERSION, "type": "state", "kind": "FlowState", "body": state.to_dict()}


def decode_state(data: Any) -> FlowState:
    """The flow state in an envelope; WireError for anything but a valid state envelope."""
    return cast(FlowState, _decode(data, "state"))


def encode_delta(delta: dict[str, Any]) -> dict[str, Any]:
    """The envelope of a delta made by :func:`~selinon_core.dispatch.delta.state_delta`."""
    if not isinstance(delta, dict) or not {"from_version", "version"} <= delta.keys():
        raise TypeError(f"not a state delta: {type(delta).__name__}")
    return {"v": WIRE_VERSION, "type": "delta", "kind": "StateDelta", "body": delta}


def decode_delta(data: Any) -> dict[str, Any]:
    """The state delta in an envelope (a new dict); WireError when it is not a valid one."""
    return cast(dict[str, Any], _decode(data, "delta"))


def encode(obj: Message) -> dict[str, Any]:
    """The envelope of an event, an action, a flow state or a state delta (a dict)."""
    if type(obj) in _BY_CLASS:
        return _encode_as(_BY_CLASS[type(obj)][0], obj)
    if isinstance(obj, FlowState):
        return encode_state(obj)
    return encode_delta(obj)  # type: ignore[arg-type]


def dumps(obj: Message) -> bytes:
    """Compact UTF-8 JSON of ``encode(obj)``; TypeError when an ``Any`` value is not JSON."""
    return _ENCODER.encode(encode(obj)).encode("utf-8", "surrogatepass")


def loads(raw: bytes | bytearray | str) -> Message:
    """Inverse of :func:`dumps`; WireError for anything but the JSON of a valid envelope."""
    try:
        data = json.loads(raw)
    except (ValueError, TypeError, RecursionError) as exc:
        raise WireError(f"malformed JSON: {exc}"[:300]) from None
    return cast(Message, _decode(data, None))
