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


# Trie layout (private): a *node* is a list ``[bitmap, slot, slot, ...]`` whose bitmap says
# which of the 32 positions are used; a *slot* is a node, a *leaf* tuple ``(hash, key, value)``
# or a :class:`_Bucket` of keys sharing one full hash.  Lists are never mutated once built
# (updates copy them): lists copy at C speed, and fewer objects keep the garbage collector's
# work down on large maps.

Node: TypeAlias = "list[Any]"


class _Bucket:
    """Entries whose keys have the same full hash."""

    __slots__ = ("entries", "h")

    def __init__(self, h: int, entries: tuple[tuple[Any, Any], ...]) -> None:
        self.h = h
        self.entries = entries


def _slot_hash(slot: Any) -> int:
    return slot[0] if type(slot) is tuple else slot.h  # type: ignore[no-any-return]


def _pair(shift: int, a: Any, b: Any) -> Node:
    """A node holding two slots (leaves or buckets) whose full hashes differ."""
    ia = (_slot_hash(a) >> shift) & _MASK
    ib = (_slot_hash(b) >> shift) & _MASK
    if ia == ib:
        return [1 << ia, _pair(shift + _BITS, a, b)]
    return [(1 << ia) | (1 << ib), a, b] if ia < ib else [(1 << ia) | (1 << ib), b, a]


def _bucket_set(slot: _Bucket, key: Any, value: Any) -> tuple[_Bucket, bool]:
    entries = [(k, v) for k, v in slot.entries if k != key]
    added = len(entries) == len(slot.entries)
    entries.append((key, value))
    return _Bucket(slot.h, tuple(entries)), added


def _slot_set(slot: Any, shift: int, leaf: tuple[int, Any, Any]) -> tuple[Any, bool]:
    """The slot replacing the leaf or bucket ``slot`` once ``leaf`` is stored there."""
    h = leaf[0]
    if _slot_hash(slot) != h:
        return _pair(shift + _BITS, slot, leaf), True
    if type(slot) is _Bucket:
        return _bucket_set(slot, leaf[1], leaf[2])
    if slot[1] == leaf[1]:
        return leaf, False
    return _Bucket(h, ((slot[1], slot[2]), (leaf[1], leaf[2]))), True


def _set(root: Node, leaf: tuple[int, Any, Any]) -> tuple[Node, bool]:
    """The new root with ``leaf`` stored, and whether a new key was added."""
    h = leaf[0]
    path: list[tuple[Node, int]] = []
    node = root
    shift = 0
    while True:
        bit = 1 << ((h >> shift) & _MASK)
        bitmap = node[0]
        pos = (bitmap & (bit - 1)).bit_count() + 1
        if not bitmap & bit:
            new = node[:pos]
            new[0] = bitmap | bit
            new.append(leaf)
            new += node[pos:]
            added = True
            break
        slot = node[pos]
        if type(slot) is list:
            path.append((node, pos))
            node = slot
            shift += _BITS
            continue
        replacement, added = _slot_set(slot, shift, leaf)
        new = node.copy()
        new[pos] = replacement
        break
    while path:
        parent, pos = path.pop()
        copy = parent.copy()
        copy[pos] = new
        new = copy
    return new, added


def _without(node: Node, bit: int, pos: int) -> Node | None:
    """``node`` without the slot at ``pos`` (``None`` when nothing is left)."""
    if node[0] == bit:
        return None
    new = node.copy()
    new[0] ^= bit
    del new[pos]
    return new


def _bucket_delete(slot: _Bucket, key: Any) -> Any:
    """The bucket without ``key`` (a leaf when one entry is left), or ``slot`` if absent."""
    entries = tuple((k, v) for k, v in slot.entries if k != key)
    if len(entries) == len(slot.entries):
        return slot
    if len(entries) > 1:
        return _Bucket(slot.h, entries)
    return (slot.h, *entries[0])


def _delete(root: Node, h: int, key: Any) -> tuple[Node | None, bool]:
    """The new root (``None`` when empty) and whether the key was found."""
    path: list[tuple[Node, int, int]] = []
    node = root
    shift = 0
    while True:
        bit = 1 << ((h >> shift) & _MASK)
        bitmap = node[0]
        if not bitmap & bit:
            return root, False
        pos = (bitmap & (bit - 1)).bit_count() + 1
        slot = node[pos]
        kind = type(slot)
        if kind is list:
            path.append((node, bit, pos))
            node = slot
            shift += _BITS
            continue
        if _slot_hash(slot) != h:
            return root, False
        if kind is tuple:
            if slot[1] != key:
                return root, False
            new = _without(node, bit, pos)
        else:
            rest = _bucket_delete(slot, key)
            if rest is slot:
                return root, False
            new = node.copy()
            new[pos] = rest
        break
    while path:
        parent, bit, pos = path.pop()
        if new is None:
            new = _without(parent, bit, pos)
        else:
            copy = parent.copy()
            copy[pos] = new
            new = copy
    return new, True


def _build(leaves: list[tuple[int, Any, Any]], shift: int) -> Node:
    """A node holding ``leaves`` (distinct keys), built bottom-up in one pass."""
    groups: dict[int, list[tuple[int, Any, Any]]] = {}
    for leaf in leaves:
        groups.setdefault((leaf[0] >> shift) & _MASK, []).append(leaf)
    node: Node = [0]
    bitmap = 0
    for idx in sorted(groups):
        group = groups[idx]
        bitmap |= 1 << idx
        if len(group) == 1:
            node.append(group[0])
        elif len({leaf[0] for leaf in group}) == 1:
            node.append(_Bucket(group[0][0], tuple((leaf[1], leaf[2]) for leaf in group)))
        else:
            node.append(_build(group, shift + _BITS))
    node[0] = bitmap
    return node


def _slot_items(slot: Any) -> Iterator[tuple[Any, Any]]:
    kind = type(slot)
    if kind is list:
        yield from _walk(slot)
    elif kind is tuple:
        yield slot[1], slot[2]
    elif slot is not None:
        yield from slot.entries


def _diff(new: Any, old: Any, changed: list[tuple[Any, Any]], removed: list[Any]) -> None:
    """Collect what differs between two slots; identical (shared) subtrees are skipped."""
    if new is old:
        return
    if type(new) is list and type(old) is list:
        new_map, old_map = new[0], old[0]
        if new_map == old_map:  # same layout: compare slot by slot
            for pos in range(1, len(new)):
                if new[pos] is not old[pos]:
                    _diff(new[pos], old[pos], changed, removed)
            return
        both = new_map | old_map
        while both:
            bit = both & -both
            both ^= bit
            a = new[(new_map & (bit - 1)).bit_count() + 1] if new_map & bit else None
            b = old[(old_map & (bit - 1)).bit_count() + 1] if old_map & bit else None
            _diff(a, b, changed, removed)
        return
    before = dict(_slot_items(old))
    for key, value in _slot_items(new):
        if key not in before or before.pop(key) is not value:
            changed.append((key, value))
    removed.extend(before)


def _walk(node: Node) -> Iterator[tuple[Any, Any]]:
    for pos in range(1, len(node)):
        slot = node[pos]
        kind = type(slot)
        if kind is list:
            yield from _walk(slot)
        elif kind is tuple:
            yield slot[1], slot[2]
        else:
            yield from slot.entries


class PMap(Generic[K, V]):
    """An immutable hash map with cheap updates (``set``/``delete`` return a new map).

    Example::

        m1 = PMap[str, int]().set("a", 1)
        m2 = m1.set("b", 2)          # m1 is unchanged and shares structure with m2
    """

    __slots__ = ("_len", "_root")

    def __init__(self, root: Node | None = None, length: int = 0) -> None:
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
            bitmap = node[0]
            if not bitmap & bit:
                return default
            slot = node[(bitmap & (bit - 1)).bit_count() + 1]
            kind = type(slot)
            if kind is list:
                node = slot
                shift += _BITS
            elif kind is tuple:
                return slot[2] if slot[0] == h and slot[1] == key else default
            elif slot.h != h:
                return default
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
        root, added = _set(self._root or _EMPTY, (hash(key), key, value))
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
        leaves = [(hash(key), key, value) for key, value in merged.items()]
        return PMap(_build(leaves, 0), len(leaves))

    def delete(self, key: K) -> PMap[K, V]:
        """A new map without ``key`` (the same map when ``key`` is absent)."""
        if self._root is None:
            return self
        root, found = _delete(self._root, hash(key), key)
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
_EMPTY: Node = [0]
