"""Result caches: Selinon's eviction semantics, model-based checks, threads, and Redis for real."""

from __future__ import annotations

import contextlib
import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from selinon_backends.caches import FIFO, LIFO, LRU, MRU, RR, RedisCache, build_cache
from selinon_core.caching import Cache, CacheMissError
from selinon_core.config.spec import CacheSpec
from selinon_core.config.system import System
from selinon_core.errors import BackendError, SpecError, TransientBackendError

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # make ``tests.services`` importable without a root conftest
    sys.path.insert(0, _ROOT)

from tests.contract._threads import run_threads  # noqa: E402
from tests.services import require_redis, unique_name  # noqa: E402

CacheFactory = Callable[[int], Any]
POLICIES: dict[str, CacheFactory] = {
    "FIFO": FIFO,
    "LIFO": LIFO,
    "LRU": LRU,
    "MRU": MRU,
    "RR": lambda size: RR(size, rng=random.Random(7)),
}


def _present(cache: Any, ids: range | list[str]) -> list[Any]:
    found = []
    for item_id in ids:
        try:
            cache.get(item_id)
        except CacheMissError:
            continue
        found.append(item_id)
    return found


# --------------------------------------------------------------------------- §9 examples


def test_lru_evicts_least_recently_used() -> None:
    cache = LRU(max_cache_size=2)
    for i in (1, 2, 3):
        cache.add(str(i), i)
    assert _present(cache, ["1", "2", "3"]) == ["2", "3"]

    # the reads above used 2 then 3, so 2 is now the least recently used
    cache.add("1", 1)
    assert _present(cache, ["1", "2", "3"]) == ["1", "3"]


def test_lru_get_order_decides_victim() -> None:
    cache = LRU(max_cache_size=2)
    cache.add("a", "A")
    cache.add("b", "B")
    assert cache.get("a") == "A"
    cache.add("c", "C")
    assert "b" not in cache
    assert cache.get("a") == "A"
    assert cache.get("c") == "C"


def test_lifo_evicts_latest_insert() -> None:
    cache = LIFO(max_cache_size=2)
    for i in (1, 2, 3):
        cache.add(str(i), i)
    assert _present(cache, ["1", "2", "3"]) == ["1", "3"]


def test_mru_evicts_most_recently_used() -> None:
    cache = MRU(max_cache_size=16)
    for i in range(16):
        cache.add(str(i), i)
    cache.add("16", 16)
    assert "15" not in cache
    assert len(cache) == 16
    assert all(str(i) in cache for i in [*range(15), 16])


def test_mru_get_marks_item_as_most_recent() -> None:
    cache = MRU(max_cache_size=3)
    for item_id in "abc":
        cache.add(item_id, item_id.upper())
    cache.get("a")
    cache.add("d", "D")
    assert sorted(cache._items) == ["b", "c", "d"]


def test_fifo_ignores_reads() -> None:
    cache = FIFO(max_cache_size=2)
    cache.add("a", 1)
    cache.add("b", 2)
    cache.get("a")
    cache.add("c", 3)
    assert _present(cache, ["a", "b", "c"]) == ["b", "c"]


def test_rr_evicts_exactly_one_random_item_reproducibly() -> None:
    runs = []
    for _ in range(2):
        cache = RR(max_cache_size=4, rng=random.Random(1234))
        for i in range(10):
            cache.add(str(i), i)
            assert str(i) in cache
        runs.append(sorted(cache._items))
    assert len(runs[0]) == 4
    assert runs[0] == runs[1]


@pytest.mark.parametrize("name", POLICIES)
def test_size_zero_stores_nothing(name: str) -> None:
    cache = POLICIES[name](0)
    cache.add("x", 1)
    assert len(cache) == 0
    with pytest.raises(CacheMissError):
        cache.get("x")


@pytest.mark.parametrize("name", POLICIES)
def test_default_size_is_zero(name: str) -> None:
    cache = {"FIFO": FIFO, "LIFO": LIFO, "LRU": LRU, "MRU": MRU, "RR": RR}[name]()
    assert cache.max_cache_size == 0


@pytest.mark.parametrize("name", POLICIES)
def test_adding_existing_id_is_a_noop(name: str) -> None:
    cache = POLICIES[name](2)
    cache.add("x", "first")
    cache.add("x", "second")
    assert cache.get("x") == "first"
    assert len(cache) == 1


def test_readding_existing_id_does_not_refresh_recency() -> None:
    cache = LRU(max_cache_size=2)
    cache.add("a", 1)
    cache.add("b", 2)
    cache.add("a", 1)  # no-op: "a" stays the least recently used
    cache.add("c", 3)
    assert _present(cache, ["a", "b", "c"]) == ["b", "c"]


@pytest.mark.parametrize("name", POLICIES)
def test_miss_raises_cache_miss_error_naming_the_id(name: str) -> None:
    with pytest.raises(CacheMissError, match="nope"):
        POLICIES[name](3).get("nope", task_name="T", flow_name="f")


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_invalid_size_is_rejected(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        LRU(max_cache_size=bad)


@pytest.mark.parametrize("name", POLICIES)
def test_every_cache_satisfies_the_port(name: str) -> None:
    assert isinstance(POLICIES[name](1), Cache)


# --------------------------------------------------------------------------- model-based


class _ReferenceModel:
    """An independent model: timestamps per item, victim chosen by min/max over them."""

    def __init__(self, policy: str, size: int) -> None:
        self.policy = policy
        self.size = size
        self.clock = 0
        self.items: dict[str, Any] = {}
        self.inserted: dict[str, int] = {}
        self.used: dict[str, int] = {}

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def victim(self) -> str:
        chooser: dict[str, Callable[[], str]] = {
            "FIFO": lambda: min(self.inserted, key=self.inserted.__getitem__),
            "LIFO": lambda: max(self.inserted, key=self.inserted.__getitem__),
            "LRU": lambda: min(self.used, key=self.used.__getitem__),
            "MRU": lambda: max(self.used, key=self.used.__getitem__),
        }
        return chooser[self.policy]()

    def add(self, item_id: str, item: Any) -> None:
        if self.size == 0 or item_id in self.items:
            return
        while len(self.items) + 1 > self.size:
            gone = self.victim()
            del self.items[gone], self.inserted[gone], self.used[gone]
        now = self._tick()
        self.items[item_id] = item
        self.inserted[item_id] = now
        self.used[item_id] = now

    def get(self, item_id: str) -> Any:
        if item_id not in self.items:
            raise CacheMissError(item_id)
        self.used[item_id] = self._tick()
        return self.items[item_id]


_IDS = st.sampled_from([f"id{i}" for i in range(12)])


class DeterministicPolicyMachine(RuleBasedStateMachine):
    """Each deterministic policy behaves exactly like the timestamp model."""

    def __init__(self) -> None:
        super().__init__()
        self.model: _ReferenceModel
        self.cache: Any

    @initialize(policy=st.sampled_from(["FIFO", "LIFO", "LRU", "MRU"]), size=st.integers(0, 5))
    def setup(self, policy: str, size: int) -> None:
        self.model = _ReferenceModel(policy, size)
        self.cache = POLICIES[policy](size)

    @rule(item_id=_IDS, item=st.integers())
    def add(self, item_id: str, item: int) -> None:
        self.model.add(item_id, item)
        self.cache.add(item_id, item)

    @rule(item_id=_IDS)
    def get(self, item_id: str) -> None:
        try:
            expected = self.model.get(item_id)
        except CacheMissError:
            with pytest.raises(CacheMissError):
                self.cache.get(item_id)
        else:
            assert self.cache.get(item_id) == expected

    @invariant()
    def same_contents(self) -> None:
        if hasattr(self, "cache"):
            assert dict(self.cache._items) == self.model.items


class RandomReplacementMachine(RuleBasedStateMachine):
    """RR: bounded, keeps what it holds unchanged, evicts exactly one item when full."""

    added = Bundle("added")

    def __init__(self) -> None:
        super().__init__()
        self.cache: RR
        self.values: dict[str, int] = {}

    @initialize(size=st.integers(0, 5), seed=st.integers(0, 2**32))
    def setup(self, size: int, seed: int) -> None:
        self.cache = RR(size, rng=random.Random(seed))

    @rule(target=added, item_id=_IDS, item=st.integers())
    def add(self, item_id: str, item: int) -> str:
        before = set(self.cache._items)
        self.cache.add(item_id, item)
        after = set(self.cache._items)
        if self.cache.max_cache_size == 0:
            assert after == set()
        elif item_id in before:
            assert after == before
        else:
            self.values[item_id] = item
            assert item_id in after
            assert len(before - after) == (1 if len(before) == self.cache.max_cache_size else 0)
            assert after - before == {item_id}
        return item_id

    @precondition(lambda self: hasattr(self, "cache"))
    @rule(item_id=added)
    def get(self, item_id: str) -> None:
        if item_id in self.cache:
            assert self.cache.get(item_id) == self.values[item_id]
        else:
            with pytest.raises(CacheMissError):
                self.cache.get(item_id)

    @invariant()
    def bounded_and_consistent(self) -> None:
        if hasattr(self, "cache"):
            assert len(self.cache) <= self.cache.max_cache_size
            assert sorted(self.cache._keys) == sorted(self.cache._items)
            assert all(self.cache._keys[i] == k for k, i in self.cache._index.items())


TestDeterministicPolicies = DeterministicPolicyMachine.TestCase
TestDeterministicPolicies.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
TestRandomReplacement = RandomReplacementMachine.TestCase
TestRandomReplacement.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)


# --------------------------------------------------------------------------- threads


@pytest.mark.parametrize("name", POLICIES)
def test_concurrent_adds_and_gets_keep_the_cache_consistent(name: str) -> None:
    size = 32
    cache = POLICIES[name](size)

    def worker(offset: int) -> None:
        for i in range(2000):
            item_id = f"{(i * 7 + offset) % 100}"
            cache.add(item_id, int(item_id))
            # a miss is allowed: another thread may have evicted it in between
            with contextlib.suppress(CacheMissError):
                assert cache.get(item_id) == int(item_id)

    run_threads(8, worker, timeout=None)
    assert len(cache) == size
    assert all(cache.get(k) == int(k) for k in list(cache._items))


# --------------------------------------------------------------------------- build_cache


def _system() -> System:
    return System.from_dict({"tasks": [{"name": "T", "import": "x"}], "flows": {}})


def test_build_cache_default_spec_is_an_empty_lru() -> None:
    cache = build_cache(CacheSpec(), _system())
    assert isinstance(cache, LRU)
    assert cache.max_cache_size == 0


@pytest.mark.parametrize("name", ["FIFO", "LIFO", "LRU", "MRU", "RR"])
def test_build_cache_resolves_selinon_path(name: str) -> None:
    spec = CacheSpec.model_validate(
        {"name": name, "import": "selinon.caches", "configuration": {"max_cache_size": 3}}
    )
    cache = build_cache(spec, _system())
    assert type(cache).__name__ == name
    cache.add("a", 1)
    assert cache.get("a") == 1


def test_build_cache_accepts_a_user_class() -> None:
    spec = CacheSpec.model_validate(
        {"name": "LRU", "import": "selinon_backends.caches", "configuration": {}}
    )
    assert isinstance(build_cache(spec, _system()), LRU)


def test_build_cache_bad_configuration_is_a_spec_error() -> None:
    spec = CacheSpec.model_validate({"name": "LRU", "configuration": {"max_size": 3}})
    with pytest.raises(SpecError, match="rejected its configuration"):
        build_cache(spec, _system())


def test_build_cache_unknown_class_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="no attribute 'Nope'"):
        build_cache(CacheSpec(name="Nope"), _system())


def test_build_cache_rejects_objects_without_add_and_get() -> None:
    spec = CacheSpec.model_validate({"name": "OrderedDict", "import": "collections"})
    with pytest.raises(SpecError, match="add"):
        build_cache(spec.model_copy(update={"configuration": {}}), _system())


# --------------------------------------------------------------------------- Redis


@dataclass
class RedisTarget:
    """The real Redis a test uses, and a key prefix no other test run shares."""

    url: str
    host: str
    port: int
    db: int
    prefix: str
    client: redis.Redis[bytes]

    def cache(self, **options: Any) -> RedisCache:
        return RedisCache(url=self.url, prefix=self.prefix, **options)


@pytest.fixture
def real_redis() -> Iterator[RedisTarget]:
    url = require_redis()
    parsed = urlsplit(url)
    client: redis.Redis[bytes] = redis.Redis.from_url(url)
    target = RedisTarget(
        url=url,
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 6379,
        db=int(parsed.path.strip("/") or 0),
        prefix=f"{unique_name('test_cache')}:",
        client=client,
    )
    yield target
    keys = list(client.scan_iter(match=f"{target.prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.mark.service
def test_redis_cache_round_trip(real_redis: RedisTarget) -> None:
    cache = real_redis.cache()
    result = {"unicode": "žluťoučký kůň 🐎", "n": [1, 2.5, None, True]}
    cache.add("task-1", result, task_name="T", flow_name="f")
    assert cache.get("task-1", task_name="T", flow_name="f") == result
    with pytest.raises(CacheMissError):
        cache.get("task-2")
    assert cache.key("task-1") == f"{real_redis.prefix}task-1"
    raw = real_redis.client.get(cache.key("task-1"))
    assert raw is not None
    assert json.loads(raw.decode("utf-8")) == result
    cache.close()


@pytest.mark.service
def test_redis_cache_add_existing_is_noop_and_ttl_expires(real_redis: RedisTarget) -> None:
    cache = real_redis.cache(ttl=0.3)
    cache.add("x", 1)
    cache.add("x", 2)
    assert cache.get("x") == 1
    ttl_ms = real_redis.client.pttl(cache.key("x"))
    assert 0 < ttl_ms <= 300
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            cache.get("x")
        except CacheMissError:
            break
        time.sleep(0.05)
    else:  # pragma: no cover - only on failure
        pytest.fail("item did not expire")
    cache.close()


@pytest.mark.service
def test_redis_cache_without_ttl_keeps_items(real_redis: RedisTarget) -> None:
    cache = real_redis.cache()
    cache.add("forever", "v")
    assert real_redis.client.pttl(cache.key("forever")) == -1
    cache.close()


@pytest.mark.service
def test_redis_cache_is_shared_between_instances(real_redis: RedisTarget) -> None:
    writer = RedisCache(
        host=real_redis.host, port=real_redis.port, db=real_redis.db, prefix=real_redis.prefix
    )
    reader = real_redis.cache(max_cache_size=0)
    writer.add("shared", {"a": 1})
    assert reader.get("shared") == {"a": 1}
    writer.close()
    reader.close()


@pytest.mark.service
def test_redis_cache_concurrent_threads(real_redis: RedisTarget) -> None:
    cache = real_redis.cache(max_connections=4)

    def worker(n: int) -> None:
        for i in range(50):
            cache.add(f"{n}-{i}", [n, i])
            assert cache.get(f"{n}-{i}") == [n, i]

    run_threads(6, worker, timeout=None)
    cache.close()


@pytest.mark.service
def test_redis_cache_rejects_non_json_and_reports_garbage(real_redis: RedisTarget) -> None:
    cache = real_redis.cache()
    with pytest.raises(TypeError):
        cache.add("bad", object())
    real_redis.client.set(cache.key("garbage"), b"not json{")
    with pytest.raises(BackendError, match="holds no JSON"):
        cache.get("garbage")
    cache.close()


@pytest.mark.service
def test_redis_cache_from_yaml_spec(real_redis: RedisTarget) -> None:
    spec = CacheSpec.model_validate(
        {
            "name": "RedisCache",
            "import": "selinon.caches",
            "configuration": {
                "host": real_redis.host,
                "port": real_redis.port,
                "db": real_redis.db,
                "password": None,
                "charset": "utf-8",
                "prefix": real_redis.prefix,
                "ttl": 60,
            },
        }
    )
    cache = build_cache(spec, _system())
    assert isinstance(cache, RedisCache)
    cache.add("k", "v")
    assert cache.get("k") == "v"
    assert 0 < real_redis.client.ttl(cache.key("k")) <= 60
    cache.close()


def test_redis_cache_unreachable_server_is_transient() -> None:
    # port 1 on loopback: nothing listens there, the connection is refused at once
    cache = RedisCache(host="127.0.0.1", port=1, socket_timeout=1)
    with pytest.raises(TransientBackendError):
        cache.get("x")
    with pytest.raises(TransientBackendError):
        cache.add("x", 1)
    cache.close()


def test_redis_cache_rejects_non_positive_ttl() -> None:
    with pytest.raises(ValueError, match="ttl"):
        RedisCache(ttl=0)


# --------------------------------------------------------------------------- docs


def _doc_yaml_blocks(name: str) -> list[Any]:
    import pathlib
    import re

    from ruamel.yaml import YAML

    text = (pathlib.Path(__file__).parents[2] / "docs" / name).read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    return [YAML(typ="safe").load(block) for block in blocks if not block.startswith(" ")]


def test_cache_examples_in_the_docs_build() -> None:
    built = []
    for document in _doc_yaml_blocks("caches.md"):
        for storage in document["storages"]:
            built.append(build_cache(CacheSpec.model_validate(storage["cache"]), _system()))
    assert [type(cache).__name__ for cache in built] == ["LRU", "RedisCache"]
    assert isinstance(built[0], LRU)
    assert built[0].max_cache_size == 256
    assert isinstance(built[1], RedisCache)
    assert built[1].ttl == 3600
    built[1].close()
