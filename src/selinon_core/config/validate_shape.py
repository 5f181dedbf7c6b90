"""Shape validation: run the pydantic models on raw YAML data and locate every error.

Pydantic's ``ValidationError`` is never shown raw: each error's ``loc`` is walked through the raw
data (dropping union-member tags pydantic inserts) to find the YAML node it refers to, and the
error type is turned into a short sentence ("unknown key 'storge'", "missing required key
'import'") with a hint listing or guessing the valid keys.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from selinon_core.config import spec
from selinon_core.config.validate_common import Reporter, did_you_mean
from selinon_core.config.yamlsource import Path_

__all__ = ["known_keys", "salvage_model", "validate_model"]

M = TypeVar("M", bound=BaseModel)

_EXTRA_SPELLINGS: Mapping[type[BaseModel], tuple[str, ...]] = {
    spec.TaskSpec: ("storage_readonly",),
    spec.SelectiveRunFunctionSpec: ("function",),
}


def known_keys(model: type[BaseModel]) -> list[str]:
    """The YAML keys ``model`` accepts (aliases, plus documented alternative spellings)."""
    names = [info.alias or name for name, info in model.model_fields.items()]
    return sorted({*names, *_EXTRA_SPELLINGS.get(model, ())})


def validate_model(model: type[M], raw: Any, path: Path_, rep: Reporter) -> M | None:
    """Validate ``raw`` (found at ``path``) as ``model``; report each error, ``None`` on failure."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        grouped: dict[Path_, list[dict[str, Any]]] = {}
        for error in exc.errors(include_url=False, include_context=False):
            grouped.setdefault(_clean_loc(raw, error["loc"]), []).append(dict(error))
        for loc, errors in grouped.items():
            _report(model, (*path, *loc), loc, errors, rep)
        return None


def salvage_model(model: type[M], raw: Any) -> M:
    """``model`` built from the keys of ``raw`` that are valid on their own (no reporting).

    Used after :func:`validate_model` reported a section's errors, so that one bad key (an old
    trace syntax) does not discard the section's other settings and cause follow-on errors.
    """
    kept: dict[str, Any] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            try:
                model.model_validate({key: value})
            except ValidationError:
                continue
            kept[key] = value
    try:
        return model.model_validate(kept)
    except ValidationError:
        return model()


def _clean_loc(raw: Any, loc: tuple[Any, ...]) -> Path_:
    """Keep the parts of ``loc`` that step through ``raw`` (drop union tags and the like)."""
    cleaned: list[str | int] = []
    node = raw
    for part in loc:
        if _steps(node, part):
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not _is_tag(part):
            cleaned.append(part)  # a missing or extra key: keep it, stop walking
            node = None
            continue
        else:
            continue
        cleaned.append(part)
    return tuple(cleaned)


def _steps(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _is_tag(part: str) -> bool:
    return part[:1].isupper() or "[" in part or part in {"literal", "tuple", "bool", "str"}


def _report(
    model: type[BaseModel], full: Path_, loc: Path_, errors: list[dict[str, Any]], rep: Reporter
) -> None:
    first = errors[0]
    kind = first["type"]
    key = loc[-1] if loc else None
    if kind == "missing":
        rep.error(full[:-1], f"missing required key {key!r}")
    elif kind == "extra_forbidden":
        owner = _model_at(model, first["loc"][:-1])
        valid = known_keys(owner) if owner else []
        hint = did_you_mean(key, valid) or (f"valid keys: {', '.join(valid)}" if valid else None)
        rep.error(full, f"unknown key {key!r}", hint, key=True)
    else:
        rep.error(full, _value_message(key, errors))


_NAMES = "a node name or a list of node names"
_EXPECTED: Mapping[str, str] = {
    **dict.fromkeys(("from", "to", "nowait", "nodes", "tasks"), _NAMES),
    **dict.fromkeys(("eager_failures", "fallback"), f"true, {_NAMES}"),
    **dict.fromkeys(("run_subsequent", *spec.PROPAGATE_FLAGS), f"a boolean, {_NAMES}"),
    "trace": "false, a mapping of trace sinks or a list of them",
}


def _value_message(key: str | int | None, errors: list[dict[str, Any]]) -> str:
    what = f"{key!r}" if isinstance(key, str) else ("entry" if key is not None else "value")
    kind = errors[0]["type"]
    messages = list(dict.fromkeys(_short(e) for e in errors))
    got = _short_repr(errors[0].get("input"))
    if kind in ("too_short", "tuple_type") and errors[0].get("input") in ([], (), None):
        return f"{what} must not be empty"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{what} must be a mapping, got {got}"
    if kind == "value_error":
        return " or ".join(messages)
    if isinstance(key, str) and key in _EXPECTED and kind != "too_short":
        return f"{what} must be {_EXPECTED[key]} (got {got})"
    return f"invalid {what}: {' or '.join(messages)} (got {got})"


def _short(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message[:1].lower() + message[1:]


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class found by following ``loc`` (a pydantic error location) from ``model``."""
    current: type[BaseModel] | None = model
    candidates: list[type[BaseModel]] = []
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        named = [c for c in candidates if c.__name__ == part]
        if named:
            current = named[0]
            continue
        field = _field(current, part)
        if field is None:
            return None
        candidates = _models_in(field)
        current = candidates[0] if candidates else None
    return current


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return found
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found
