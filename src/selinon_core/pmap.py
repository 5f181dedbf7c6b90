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
_BULK_MIN = 8

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


class _Node:
    """A trie node: ``bitmap`` says which of the 32 positions are used, ``slots`` holds them."""

    __slots__ = ("bitmap", "slots")

    def __init__(self, bitmap: int, slots: tuple[Any, ...]) -> None:
        self.bitmap = bitmap
        self.slots = slots


def _replaced(node: _Node, pos: int, slot: Any) -> _Node:
    slots = node.slots
    return _Node(node.bitmap, (*slots[:pos], slot, *slots[pos + 1 :]))


def _removed(node: _Node, bit: int, pos: int) -> _Node | None:
    bitmap = node.bitmap & ~bit
    if not bitmap:
        return None
    slots = node.slots
    return _Node(bitmap, (*slots[:pos], *slots[pos + 1 :]))


def _pair(shift: int, a: _Leaf | _Bucket, b: _Leaf | _Bucket) -> _Node:
    """A node holding two slots whose full hashes differ."""
    ia = (a.h >> shift) & _MASK
    ib = (b.h >> shift) & _MASK
    if ia == ib:
        return _Node(1 << ia, (_pair(shift + _BITS, a, b),))
    return _Node((1 << ia) | (1 << ib), (a, b) if ia < ib else (b, a))


def _bucket_set(slot: _Bucket, leaf: _Leaf) -> tuple[_Bucket, bool]:
    entries = [(k, v) for k, v in slot.entries if k != leaf.key]
    added = len(entries) == len(slot.entries)
    entries.append((leaf.key, leaf.value))
    return _Bucket(slot.h, tuple(entries)), added


def _slot_set(slot: Any, shift: int, leaf: _Leaf) -> tuple[Any, bool]:
    """The slot that replaces ``slot`` once ``leaf`` is stored below it."""
    kind = type(slot)
    if kind is _Node:
        return _set(slot, shift + _BITS, leaf)
    if slot.h != leaf.h:
        return _pair(shift + _BITS, slot, leaf), True
    if kind is _Bucket:
        return _bucket_set(slot, leaf)
    if slot.key == leaf.key:
        return leaf, False
    return _Bucket(leaf.h, ((slot.key, slot.value), (leaf.key, leaf.value))), True


def _set(node: _Node, shift: int, leaf: _Leaf) -> tuple[_Node, bool]:
    """Return the updated node and whether a new key was added."""
    bit = 1 << ((leaf.h >> shift) & _MASK)
    bitmap = node.bitmap
    pos = (bitmap & (bit - 1)).bit_count()
    if not bitmap & bit:
        slots = node.slots
        return _Node(bitmap | bit, (*slots[:pos], leaf, *slots[pos:])), True
    new_slot, added = _slot_set(node.slots[pos], shift, leaf)
    return _replaced(node, pos, new_slot), added


def _delete(node: _Node, shift: int, h: int, key: Any) -> tuple[_Node | None, bool]:
    """Return the updated node (``None`` when it became empty) and whether the key was found."""
    bit = 1 << ((h >> shift) & _MASK)
    if not node.bitmap & bit:
        return node, False
    pos = (node.bitmap & (bit - 1)).bit_count()
    slot = node.slots[pos]
    kind = type(slot)
    if kind is _Node:
        child, found = _delete(slot, shift + _BITS, h, key)
        if not found:
            return node, False
        if child is None:
            return _removed(node, bit, pos), True
        return _replaced(node, pos, child), True
    if slot.h != h:
        return node, False
    if kind is _Leaf:
        if slot.key != key:
            return node, False
        return _removed(node, bit, pos), True
    entries = tuple((k, v) for k, v in slot.entries if k != key)
    if len(entries) == len(slot.entries):
        return node, False
    rest = _Bucket(h, entries) if len(entries) > 1 else _Leaf(h, *entries[0])
    return _replaced(node, pos, rest), True


def _build(leaves: list[_Leaf], shift: int) -> _Node:
    """A node holding ``leaves`` (distinct keys), built bottom-up in one pass."""
    groups: dict[int, list[_Leaf]] = {}
    for leaf in leaves:
        groups.setdefault((leaf.h >> shift) & _MASK, []).append(leaf)
    bitmap = 0
    slots: list[Any] = []
    for idx in sorted(groups):
        group = groups[idx]
        bitmap |= 1 << idx
        if len(group) == 1:
            slots.append(group[0])
        elif len({leaf.h for leaf in group}) == 1:
            slots.append(_Bucket(group[0].h, tuple((leaf.key, leaf.value) for leaf in group)))
        else:
            slots.append(_build(group, shift + _BITS))
    return _Node(bitmap, tuple(slots))


def _slot_items(slot: Any) -> Iterator[tuple[Any, Any]]:
    kind = type(slot)
    if kind is _Node:
        yield from _walk(slot)
    elif kind is _Leaf:
        yield slot.key, slot.value
    elif slot is not None:
        yield from slot.entries


def _diff(new: Any, old: Any, changed: list[tuple[Any, Any]], removed: list[Any]) -> None:
    """Collect what differs between two slots; identical (shared) subtrees are skipped."""
    if new is old:
        return
    if type(new) is _Node and type(old) is _Node:
        if new.bitmap == old.bitmap:  # same layout: compare slot by slot
            for a, b in zip(new.slots, old.slots, strict=True):
                if a is not b:
                    _diff(a, b, changed, removed)
            return
        both = new.bitmap | old.bitmap
        while both:
            bit = both & -both
            both ^= bit
            a = new.slots[(new.bitmap & (bit - 1)).bit_count()] if new.bitmap & bit else None
            b = old.slots[(old.bitmap & (bit - 1)).bit_count()] if old.bitmap & bit else None
            _diff(a, b, changed, removed)
        return
    before = dict(_slot_items(old))
    for key, value in _slot_items(new):
        if key not in before or before.pop(key) is not value:
            changed.append((key, value))
    removed.extend(before)


def _walk(node: _Node) -> Iterator[tuple[Any, Any]]:
    for slot in node.slots:
        kind = type(slot)
        if kind is _Node:
            yield from _walk(slot)
        elif kind is _Leaf:
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

    def __init__(self, root: _Node | None = None, length: int = 0) -> None:
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
            bit = 1 << ((h >> shift) & _MASK)
            bitmap = node.bitmap
            if not bitmap & bit:
                return default
            slot = node.slots[(bitmap & (bit - 1)).bit_count()]
            kind = type(slot)
            if kind is _Node:
                node = slot
                shift += _BITS
            elif slot.h != h:
                return default
            elif kind is _Leaf:
                return slot.value if slot.key == key else default
            else:
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
        root, added = _set(self._root or _EMPTY, 0, _Leaf(hash(key), key, value))
        return PMap(root, self._len + added)

    def update(self, pairs: list[tuple[K, V]]) -> PMap[K, V]:
        """A new map with all ``pairs`` added (later pairs win).

        A batch larger than the map rebuilds it in one pass (O(len + batch)), which is much
        cheaper than that many ``set`` calls; a small batch is applied with ``set``.
        """
        if len(pairs) <= self._len or len(pairs) < _BULK_MIN:
            result = self
            for key, value in pairs:
                result = result.set(key, value)
            return result
        merged = dict(self.items())
        merged.update(pairs)
        leaves = [_Leaf(hash(key), key, value) for key, value in merged.items()]
        return PMap(_build(leaves, 0), len(leaves))

    def delete(self, key: K) -> PMap[K, V]:
        """A new map without ``key`` (the same map when ``key`` is absent)."""
        if self._root is None:
            return self
        root, found = _delete(self._root, 0, hash(key), key)
        return PMap(root, self._len - 1) if found else self

    def diff(self, old: PMap[K, V]) -> tuple[list[tuple[K, V]], list[K]]:
        """``(set, deleted)``: the pairs to set and the keys to delete to turn ``old`` into this.

        Subtrees shared with ``old`` are skipped, so the cost is O(changes x depth) for a map
        derived from ``old``.  Values are compared by identity.
        """
        changed: list[tuple[K, V]] = []
        removed: list[K] = []
        _diff(self._root, old._root, changed, removed)
        return changed, removed

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
_EMPTY = _Node(0, ())
