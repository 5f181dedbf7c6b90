"""Persistent (immutable, structurally shared) containers used by the flow state.

``PMap`` is a hash array mapped trie: ``set``/``delete`` return a new map that shares every
untouched branch with the old one, so updating one entry of a 100,000-entry map copies only a
handful of 32-slot tuples.  ``Cons`` lists are ``(head, tail)`` pairs for append-only logs.

Iteration order of ``PMap`` follows key hashes, not insertion: callers that need a stable order
(serialisation) sort.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeAlias, TypeVar

__all__ = ["Cons", "PMap", "cons_iter", "cons_len", "cons_list"]

K = TypeVar("K")
V = TypeVar("V")

_BITS = 5
_MASK = (1 << _BITS) - 1
_EMPTY_NODE: tuple[Any, ...] = (None,) * (1 << _BITS)

Cons: TypeAlias = "tuple[Any, Cons] | None"
"""An immutable singly linked list, newest element first: ``(value, rest)`` or ``None``."""


def cons_iter(items: Cons) -> Iterator[Any]:
    """Iterate a cons list from the newest to the oldest element."""
    while items is not None:
        yield items[0]
        items = items[1]


def cons_list(items: Cons) -> list[Any]:
    """The elements of a cons list, oldest first."""
    out = list(cons_iter(items))
    out.reverse()
    return out


def cons_len(items: Cons) -> int:
    """Number of elements of a cons list (O(n))."""
    return sum(1 for _ in cons_iter(items))


class _Leaf:
    __slots__ = ("h", "key", "value")

    def __init__(self, h: int, key: Any, value: Any) -> None:
        self.h = h
        self.key = key
        self.value = value


class _Bucket:
    """Entries whose keys have the same full hash."""

    __slots__ = ("entries", "h")

    def __init__(self, h: int, entries: tuple[tuple[Any, Any], ...]) -> None:
        self.h = h
        self.entries = entries


def _index(h: int, shift: int) -> int:
    return (h >> shift) & _MASK


def _merge(shift: int, a: _Leaf, b: _Leaf) -> Any:
    """A slot holding two leaves with different keys."""
    if a.h == b.h:
        return _Bucket(a.h, ((a.key, a.value), (b.key, b.value)))
    node = list(_EMPTY_NODE)
    ia, ib = _index(a.h, shift), _index(b.h, shift)
    if ia == ib:
        node[ia] = _merge(shift + _BITS, a, b)
    else:
        node[ia] = a
        node[ib] = b
    return tuple(node)


def _bucket_set(slot: _Bucket, shift: int, leaf: _Leaf) -> tuple[Any, bool]:
    if slot.h != leaf.h:
        node = list(_EMPTY_NODE)
        ib, il = _index(slot.h, shift), _index(leaf.h, shift)
        if ib == il:
            node[ib] = _bucket_set(slot, shift + _BITS, leaf)[0]
        else:
            node[ib] = slot
            node[il] = leaf
        return tuple(node), True
    entries = [(k, v) for k, v in slot.entries if k != leaf.key]
    added = len(entries) == len(slot.entries)
    entries.append((leaf.key, leaf.value))
    return _Bucket(slot.h, tuple(entries)), added


def _set(node: tuple[Any, ...], shift: int, leaf: _Leaf) -> tuple[tuple[Any, ...], bool]:
    """Return the updated node and whether a new key was added."""
    idx = _index(leaf.h, shift)
    slot = node[idx]
    added = False
    if slot is None:
        new_slot: Any = leaf
        added = True
    elif type(slot) is tuple:
        new_slot, added = _set(slot, shift + _BITS, leaf)
    elif type(slot) is _Leaf:
        if slot.h == leaf.h and slot.key == leaf.key:
            new_slot = leaf
        else:
            new_slot = _merge(shift + _BITS, slot, leaf)
            added = True
    else:
        new_slot, added = _bucket_set(slot, shift + _BITS, leaf)
    return (*node[:idx], new_slot, *node[idx + 1 :]), added


def _delete(node: tuple[Any, ...], shift: int, h: int, key: Any) -> tuple[Any, bool]:
    """Return the updated node (``None`` when it became empty) and whether the key was found."""
    idx = _index(h, shift)
    slot = node[idx]
    if slot is None:
        return node, False
    if type(slot) is tuple:
        new_slot, found = _delete(slot, shift + _BITS, h, key)
    elif type(slot) is _Leaf:
        if not (slot.h == h and slot.key == key):
            return node, False
        new_slot, found = None, True
    elif slot.h != h:
        return node, False
    else:
        entries = tuple((k, v) for k, v in slot.entries if k != key)
        found = len(entries) != len(slot.entries)
        new_slot = _Bucket(h, entries) if len(entries) > 1 else _Leaf(h, *entries[0])
    if not found:
        return node, False
    new_node = (*node[:idx], new_slot, *node[idx + 1 :])
    return (None if new_node == _EMPTY_NODE else new_node), True


def _walk(node: tuple[Any, ...]) -> Iterator[tuple[Any, Any]]:
    for slot in node:
        if slot is None:
            continue
        if type(slot) is tuple:
            yield from _walk(slot)
        elif type(slot) is _Leaf:
            yield slot.key, slot.value
        else:
            yield from slot.entries


class PMap(Generic[K, V]):
    """An immutable hash map with cheap updates (``set``/``delete`` return a new map).

    Example::

        m1 = PMap[str, int]().set("a", 1)
        m2 = m1.set("b", 2)          # m1 is unchanged and shares structure with m2
    """

    __slots__ = ("_len", "_root")

    def __init__(self, root: tuple[Any, ...] | None = None, length: int = 0) -> None:
        self._root = root
        self._len = length

    @classmethod
    def from_items(cls, items: Any) -> PMap[K, V]:
        """Build a map from ``(key, value)`` pairs (later pairs win)."""
        result: PMap[K, V] = cls()
        for key, value in items:
            result = result.set(key, value)
        return result

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def get(self, key: K, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        h = hash(key)
        node = self._root
        shift = 0
        while node is not None:
            slot = node[(h >> shift) & _MASK]
            if slot is None:
                return default
            if type(slot) is tuple:
                node = slot
                shift += _BITS
                continue
            if type(slot) is _Leaf:
                return slot.value if slot.h == h and slot.key == key else default
            if slot.h != h:
                return default
            for k, v in slot.entries:
                if k == key:
                    return v
            return default
        return default

    def __contains__(self, key: object) -> bool:
        marker = _MISSING
        return self.get(key, marker) is not marker  # type: ignore[arg-type]

    def set(self, key: K, value: V) -> PMap[K, V]:
        """A new map with ``key`` bound to ``value``."""
        root, added = _set(self._root or _EMPTY_NODE, 0, _Leaf(hash(key), key, value))
        return PMap(root, self._len + added)

    def delete(self, key: K) -> PMap[K, V]:
        """A new map without ``key`` (the same map when ``key`` is absent)."""
        if self._root is None:
            return self
        root, found = _delete(self._root, 0, hash(key), key)
        return PMap(root, self._len - 1) if found else self

    def items(self) -> Iterator[tuple[K, V]]:
        """Iterate ``(key, value)`` pairs (hash order)."""
        if self._root is not None:
            yield from _walk(self._root)

    def keys(self) -> Iterator[K]:
        """Iterate keys (hash order)."""
        return (k for k, _ in self.items())

    def __iter__(self) -> Iterator[K]:
        return self.keys()

    def to_dict(self) -> dict[K, V]:
        """A plain ``dict`` copy."""
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PMap):
            return NotImplemented
        return self._len == other._len and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(frozenset(self.items()))

    def __repr__(self) -> str:
        return f"PMap({self.to_dict()!r})"


_MISSING = object()
