"""The persistent map and cons lists behave like their mutable counterparts."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from selinon_core.dispatch.pmap import PMap, cons_iter, cons_len, cons_list


class Colliding:
    """A key whose hash is chosen by the test (to force full-hash collisions)."""

    def __init__(self, name: str, h: int) -> None:
        self.name = name
        self.h = h

    def __hash__(self) -> int:
        return self.h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Colliding) and (other.name, other.h) == (self.name, self.h)

    def __repr__(self) -> str:
        return f"Colliding({self.name!r}, {self.h})"


KEYS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=3),
    st.builds(Colliding, st.sampled_from("abcdef"), st.sampled_from([0, 1, 32, 2**40, -1])),
)
OPS = st.lists(st.tuples(st.booleans(), KEYS, st.integers()), max_size=80)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_pmap_matches_dict(ops: list[tuple[bool, object, int]]) -> None:
    model: dict[object, int] = {}
    pm: PMap[object, int] = PMap()
    history = [(pm, dict(model))]
    for is_set, key, value in ops:
        if is_set:
            model[key] = value
            pm = pm.set(key, value)
        else:
            model.pop(key, None)
            pm = pm.delete(key)
        history.append((pm, dict(model)))
    for old, expected in history:  # old versions are untouched
        assert len(old) == len(expected)
        assert old.to_dict() == expected
        assert bool(old) == bool(expected)
        for key, value in expected.items():
            assert key in old
            assert old.get(key) == value
    assert pm == PMap.from_items(model.items())
    assert (pm == {}) is False
    assert sorted(map(repr, pm)) == sorted(map(repr, model))
    assert "missing-key" not in pm or "missing-key" in model


def test_pmap_basics() -> None:
    pm: PMap[str, int] = PMap().set("a", 1).set("b", 2)
    assert pm.get("zz", 7) == 7
    assert pm.delete("zz") is pm
    assert PMap().delete("a") == PMap()
    assert repr(pm.delete("b")) == "PMap({'a': 1})"
    assert hash(pm) == hash(PMap.from_items([("b", 2), ("a", 1)]))
    assert list(pm.keys()) == list(iter(pm))
    assert pm.set("a", 1) == pm
    assert pm.set("a", 3) != pm


def test_pmap_bucket_lookup_and_delete() -> None:
    a, b, c = Colliding("a", 5), Colliding("b", 5), Colliding("c", 5)
    pm: PMap[Colliding, int] = PMap.from_items([(a, 1), (b, 2), (c, 3)])
    assert pm.get(Colliding("z", 5)) is None
    assert pm.set(b, 9).get(b) == 9
    assert len(pm.set(b, 9)) == 3
    smaller = pm.delete(b).delete(c)
    assert smaller.to_dict() == {a: 1}
    assert pm.delete(Colliding("z", 5)) is pm
    # a different hash landing on the bucket's slot splits it
    d = Colliding("d", 5 + (1 << 10))
    assert pm.set(d, 4).get(d) == 4
    e = Colliding("e", 5 + (1 << 5))
    assert pm.set(e, 5).get(e) == 5
    # same slot, different full hash: neither found nor deleted
    other = Colliding("a", 5 + (1 << 40))
    assert other not in pm
    assert pm.delete(other) is pm


def test_cons_helpers() -> None:
    items = (3, (2, (1, None)))
    assert list(cons_iter(items)) == [3, 2, 1]
    assert cons_list(items) == [1, 2, 3]
    assert cons_len(items) == 3
    assert cons_list(None) == []


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(KEYS, st.integers()), max_size=30),
    st.lists(st.tuples(KEYS, st.integers()), max_size=60),
)
def test_pmap_update_matches_dict(
    first: list[tuple[object, int]], batch: list[tuple[object, int]]
) -> None:
    base: PMap[object, int] = PMap.from_items(first)
    model = dict(first)
    updated = base.update(batch)
    model.update(batch)
    assert updated.to_dict() == model
    assert len(updated) == len(model)
    assert all(updated.get(k) == v for k, v in model.items())
    assert base.to_dict() == dict(first)  # the original is untouched


def test_pmap_bulk_update_with_full_hash_collisions() -> None:
    keys = [Colliding(name, 7) for name in "abcdefghij"]
    pm = PMap[Colliding, int]().update([(k, i) for i, k in enumerate(keys)])
    assert len(pm) == 10
    assert pm.get(keys[3]) == 3
    assert pm.delete(keys[3]).get(keys[3]) is None


def test_pmap_emptied_child_node_is_removed() -> None:
    a, b, c = Colliding("a", 1), Colliding("b", 33), Colliding("c", 2)
    pm = PMap[Colliding, int]().set(a, 1).set(b, 2).set(c, 3)
    emptied = pm.delete(a).delete(b)
    assert emptied.to_dict() == {c: 3}
    assert emptied.delete(c) == PMap()


@settings(max_examples=150, deadline=None)
@given(OPS, OPS)
def test_pmap_diff_turns_old_into_new(first: Any, second: Any) -> None:
    def play(start: PMap[object, int], ops: Any) -> PMap[object, int]:
        for is_set, key, value in ops:
            start = start.set(key, value) if is_set else start.delete(key)
        return start

    old = play(PMap(), first)
    for new in (play(old, second), play(PMap(), second)):  # derived and unrelated
        changed, removed = new.diff(old)
        rebuilt = old.to_dict()
        for key in removed:
            del rebuilt[key]
        rebuilt.update(changed)
        assert rebuilt == new.to_dict()
        assert new.diff(new) == ([], [])
