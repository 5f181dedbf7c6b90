"""The built-in predicates: the leaves of conditions.

Every predicate is a plain function whose parameters follow Selinon's names, so existing
configurations and custom predicate modules keep working.  A custom predicates module usually
starts with ``from selinon_core.predicates import *`` and adds its own functions (YAML that
names ``selinon.predicates`` resolves to this module).

Parameters are filled in by name (see :mod:`selinon_core.config.conditions`): ``message`` is the
result of a node, ``node_args`` the flow arguments, and every other parameter comes from the
condition's ``args``.

``key`` is one key, or a list of keys for a nested lookup: ``key: [foo, bar]`` reads
``message['foo']['bar']``.  A lookup or comparison that fails (missing key, wrong type,
values that cannot be compared) makes a ``field*``/``argsField*`` predicate return ``False``;
these predicates never raise.

Differences from Selinon 1.4.0, on purpose:

* ``empty``/``argsEmpty`` are true when the value *is* empty (Selinon had them inverted).
* ``fieldLenLessEqual``/``argsFieldLenLessEqual`` exist and mean ``<=``, and
  ``fieldLenGreaterEqual``/``argsFieldLenGreaterEqual`` mean ``>=`` (Selinon lacked the former
  and silently gave the latter ``<=`` semantics).
* ``httpStatus`` makes its request through the runtime's HTTP port (``http_probe``, injected
  by the engine like ``message``): the core itself does no network I/O.  The request is still
  made by the dispatcher, once per evaluation, so loading a configuration that uses it warns.
* ``envExist``/``envEqual`` read the process environment (``os.environ``) of the dispatcher:
  the one predicate input that is not part of the event.  Prefer flow arguments when the value
  should be the same wherever the flow is dispatched.
"""

from __future__ import annotations

import operator
import os
from types import NoneType
from typing import Any, Protocol

from selinon_core import _fieldpath as fp

__all__ = [
    "alwaysFalse",
    "alwaysTrue",
    "argsEmpty",
    "argsFieldBool",
    "argsFieldContain",
    "argsFieldDict",
    "argsFieldEqual",
    "argsFieldExist",
    "argsFieldFloat",
    "argsFieldGreater",
    "argsFieldGreaterEqual",
    "argsFieldInt",
    "argsFieldLenEqual",
    "argsFieldLenGreater",
    "argsFieldLenGreaterEqual",
    "argsFieldLenLess",
    "argsFieldLenLessEqual",
    "argsFieldLenNotEqual",
    "argsFieldLess",
    "argsFieldLessEqual",
    "argsFieldList",
    "argsFieldNone",
    "argsFieldNotEqual",
    "argsFieldStr",
    "argsFieldUrlNetloc",
    "argsFieldUrlPath",
    "argsFieldUrlScheme",
    "argsIsBool",
    "argsIsDict",
    "argsIsFloat",
    "argsIsInt",
    "argsIsList",
    "argsIsNone",
    "argsIsStr",
    "empty",
    "envEqual",
    "envExist",
    "fieldBool",
    "fieldContain",
    "fieldDict",
    "fieldEqual",
    "fieldExist",
    "fieldFloat",
    "fieldGreater",
    "fieldGreaterEqual",
    "fieldInt",
    "fieldLenEqual",
    "fieldLenGreater",
    "fieldLenGreaterEqual",
    "fieldLenLess",
    "fieldLenLessEqual",
    "fieldLenNotEqual",
    "fieldLess",
    "fieldLessEqual",
    "fieldList",
    "fieldNone",
    "fieldNotEqual",
    "fieldStr",
    "fieldUrlNetloc",
    "fieldUrlPath",
    "fieldUrlScheme",
    "httpStatus",
    "isBool",
    "isDict",
    "isFloat",
    "isInt",
    "isList",
    "isNone",
    "isStr",
]

# --------------------------------------------------------------------------- constants


def alwaysTrue() -> bool:
    """Always true: the condition of an edge that gives none."""
    return True


def alwaysFalse() -> bool:
    """Always false."""
    return False


# --------------------------------------------------------------------------- emptiness


def empty(message: Any) -> bool:
    """True iff the result is empty: ``None``, or a container of length 0.

    ``0``, ``False`` and other values without a length are not empty.
    """
    return fp.is_empty(message)


def argsEmpty(node_args: Any) -> bool:
    """True iff the flow arguments are empty: ``None``, or a container of length 0."""
    return fp.is_empty(node_args)


# --------------------------------------------------------------------------- environment


def envExist(env: str) -> bool:
    """True iff the environment variable ``env`` is set (in the dispatcher's process)."""
    return env in os.environ


def envEqual(env: str, value: str) -> bool:
    """True iff the environment variable ``env`` is set and equals ``value``."""
    return os.environ.get(env) == value


class HttpProbe(Protocol):
    """The HTTP port ``httpStatus`` uses; the shell provides it (standard-library HTTP)."""

    def __call__(self, *, host: str, path: str) -> int | None:
        """The status code of a ``HEAD`` request for ``path`` on ``host``; ``None`` if none came."""
        ...


def httpStatus(host: str, path: str, status: int, http_probe: HttpProbe | None = None) -> bool:
    """True iff a ``HEAD`` request for ``path`` on ``host`` answers with status ``status``.

    ``host`` may carry a port (``recipes.lan:8080``).  The request goes through
    ``http_probe``, which the engine fills in (do not give it in ``args``); an unreachable
    host makes the predicate false.

    Raises:
        RuntimeError: no HTTP port is available (the runtime offers none); the engine then
            traces the error and counts the condition as false.
    """
    if http_probe is None:
        raise RuntimeError(
            "httpStatus needs an HTTP port and this runtime provides none "
            "(the in-process engine and the workers of selinon_backends do)"
        )
    return http_probe(host=str(host), path=str(path)) == int(status)


httpStatus.network_call = True  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- type checks


def isBool(message: Any) -> bool:
    """True iff the result is a ``bool``."""
    return isinstance(message, bool)


def isDict(message: Any) -> bool:
    """True iff the result is a ``dict``."""
    return isinstance(message, dict)


def isFloat(message: Any) -> bool:
    """True iff the result is a ``float``."""
    return isinstance(message, float)


def isInt(message: Any) -> bool:
    """True iff the result is an ``int`` (``bool`` counts, as in Python)."""
    return isinstance(message, int)


def isList(message: Any) -> bool:
    """True iff the result is a ``list``."""
    return isinstance(message, list)


def isNone(message: Any) -> bool:
    """True iff the result is ``None``."""
    return isinstance(message, NoneType)


def isStr(message: Any) -> bool:
    """True iff the result is a ``str``."""
    return isinstance(message, str)


def argsIsBool(node_args: Any) -> bool:
    """True iff the flow arguments are a ``bool``."""
    return isinstance(node_args, bool)


def argsIsDict(node_args: Any) -> bool:
    """True iff the flow arguments are a ``dict``."""
    return isinstance(node_args, dict)


def argsIsFloat(node_args: Any) -> bool:
    """True iff the flow arguments are a ``float``."""
    return isinstance(node_args, float)


def argsIsInt(node_args: Any) -> bool:
    """True iff the flow arguments are an ``int`` (``bool`` counts, as in Python)."""
    return isinstance(node_args, int)


def argsIsList(node_args: Any) -> bool:
    """True iff the flow arguments are a ``list``."""
    return isinstance(node_args, list)


def argsIsNone(node_args: Any) -> bool:
    """True iff the flow arguments are ``None``."""
    return isinstance(node_args, NoneType)


def argsIsStr(node_args: Any) -> bool:
    """True iff the flow arguments are a ``str``."""
    return isinstance(node_args, str)


# --------------------------------------------------------------------------- result fields


def fieldExist(message: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` exists in the result."""
    return fp.lookup(message, key) is not fp.MISSING


def fieldEqual(message: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the result equals ``value``."""
    return fp.compare(message, key, operator.eq, value)


def fieldNotEqual(message: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the result exists and differs from ``value``."""
    return fp.compare(message, key, operator.ne, value)


def fieldGreater(message: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the result is ``> value``."""
    return fp.compare(message, key, operator.gt, value)


def fieldGreaterEqual(message: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the result is ``>= value``."""
    return fp.compare(message, key, operator.ge, value)


def fieldLess(message: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the result is ``< value``."""
    return fp.compare(message, key, operator.lt, value)


def fieldLessEqual(message: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the result is ``<= value``."""
    return fp.compare(message, key, operator.le, value)


def fieldLenEqual(message: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the result has exactly ``length`` items."""
    return fp.compare_len(message, key, operator.eq, length)


def fieldLenNotEqual(message: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the result has a length other than ``length``."""
    return fp.compare_len(message, key, operator.ne, length)


def fieldLenGreater(message: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the result has more than ``length`` items."""
    return fp.compare_len(message, key, operator.gt, length)


def fieldLenGreaterEqual(message: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the result has at least ``length`` items."""
    return fp.compare_len(message, key, operator.ge, length)


def fieldLenLess(message: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the result has fewer than ``length`` items."""
    return fp.compare_len(message, key, operator.lt, length)


def fieldLenLessEqual(message: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the result has at most ``length`` items."""
    return fp.compare_len(message, key, operator.le, length)


def fieldBool(message: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the result is a ``bool``."""
    return fp.field_is(message, key, bool)


def fieldDict(message: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the result is a ``dict``."""
    return fp.field_is(message, key, dict)


def fieldFloat(message: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the result is a ``float``."""
    return fp.field_is(message, key, float)


def fieldInt(message: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the result is an ``int`` (or a ``bool``)."""
    return fp.field_is(message, key, int)


def fieldList(message: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the result is a ``list``."""
    return fp.field_is(message, key, list)


def fieldStr(message: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the result is a ``str``."""
    return fp.field_is(message, key, str)


def fieldNone(message: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the result exists and is ``None``."""
    return fp.field_is(message, key, NoneType)


def fieldContain(message: Any, key: fp.Key, value: Any) -> bool:
    """True iff ``value in`` the field at ``key`` of the result."""
    return fp.compare(message, key, fp.contains, value)


def fieldUrlNetloc(message: Any, key: fp.Key, netloc: str) -> bool:
    """True iff the field at ``key`` of the result is a URL with netloc ``netloc``."""
    return fp.url_part(message, key, "netloc", netloc)


def fieldUrlPath(message: Any, key: fp.Key, path: str) -> bool:
    """True iff the field at ``key`` of the result is a URL whose path is ``path``."""
    return fp.url_part(message, key, "path", path)


def fieldUrlScheme(message: Any, key: fp.Key, scheme: str) -> bool:
    """True iff the field at ``key`` of the result is a URL whose scheme is ``scheme``."""
    return fp.url_part(message, key, "scheme", scheme)


# --------------------------------------------------------------------------- argument fields


def argsFieldExist(node_args: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` exists in the flow arguments."""
    return fp.lookup(node_args, key) is not fp.MISSING


def argsFieldEqual(node_args: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the flow arguments equals ``value``."""
    return fp.compare(node_args, key, operator.eq, value)


def argsFieldNotEqual(node_args: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the flow arguments exists and differs from ``value``."""
    return fp.compare(node_args, key, operator.ne, value)


def argsFieldGreater(node_args: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the flow arguments is ``> value``."""
    return fp.compare(node_args, key, operator.gt, value)


def argsFieldGreaterEqual(node_args: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the flow arguments is ``>= value``."""
    return fp.compare(node_args, key, operator.ge, value)


def argsFieldLess(node_args: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the flow arguments is ``< value``."""
    return fp.compare(node_args, key, operator.lt, value)


def argsFieldLessEqual(node_args: Any, key: fp.Key, value: Any) -> bool:
    """True iff the field at ``key`` of the flow arguments is ``<= value``."""
    return fp.compare(node_args, key, operator.le, value)


def argsFieldLenEqual(node_args: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the flow arguments has exactly ``length`` items."""
    return fp.compare_len(node_args, key, operator.eq, length)


def argsFieldLenNotEqual(node_args: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the flow arguments has a length other than ``length``."""
    return fp.compare_len(node_args, key, operator.ne, length)


def argsFieldLenGreater(node_args: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the flow arguments has more than ``length`` items."""
    return fp.compare_len(node_args, key, operator.gt, length)


def argsFieldLenGreaterEqual(node_args: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the flow arguments has at least ``length`` items."""
    return fp.compare_len(node_args, key, operator.ge, length)


def argsFieldLenLess(node_args: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the flow arguments has fewer than ``length`` items."""
    return fp.compare_len(node_args, key, operator.lt, length)


def argsFieldLenLessEqual(node_args: Any, key: fp.Key, length: int) -> bool:
    """True iff the field at ``key`` of the flow arguments has at most ``length`` items."""
    return fp.compare_len(node_args, key, operator.le, length)


def argsFieldBool(node_args: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the flow arguments is a ``bool``."""
    return fp.field_is(node_args, key, bool)


def argsFieldDict(node_args: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the flow arguments is a ``dict``."""
    return fp.field_is(node_args, key, dict)


def argsFieldFloat(node_args: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the flow arguments is a ``float``."""
    return fp.field_is(node_args, key, float)


def argsFieldInt(node_args: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the flow arguments is an ``int`` (or a ``bool``)."""
    return fp.field_is(node_args, key, int)


def argsFieldList(node_args: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the flow arguments is a ``list``."""
    return fp.field_is(node_args, key, list)


def argsFieldStr(node_args: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the flow arguments is a ``str``."""
    return fp.field_is(node_args, key, str)


def argsFieldNone(node_args: Any, key: fp.Key) -> bool:
    """True iff the field at ``key`` of the flow arguments exists and is ``None``."""
    return fp.field_is(node_args, key, NoneType)


def argsFieldContain(node_args: Any, key: fp.Key, value: Any) -> bool:
    """True iff ``value in`` the field at ``key`` of the flow arguments."""
    return fp.compare(node_args, key, fp.contains, value)


def argsFieldUrlNetloc(node_args: Any, key: fp.Key, netloc: str) -> bool:
    """True iff the field at ``key`` of the flow arguments is a URL with netloc ``netloc``."""
    return fp.url_part(node_args, key, "netloc", netloc)


def argsFieldUrlPath(node_args: Any, key: fp.Key, path: str) -> bool:
    """True iff the field at ``key`` of the flow arguments is a URL whose path is ``path``."""
    return fp.url_part(node_args, key, "path", path)


def argsFieldUrlScheme(node_args: Any, key: fp.Key, scheme: str) -> bool:
    """True iff the field at ``key`` of the flow arguments is a URL whose scheme is ``scheme``."""
    return fp.url_part(node_args, key, "scheme", scheme)
