"""Result caches: bounded in-process caches (FIFO, LIFO, LRU, MRU, RR) and a Redis cache.

YAML names these under Selinon's module path, which maps here::

    storages:
      - name: Results
        import: selinon.storages.redis
        configuration: {host: 127.0.0.1}
        cache:
          name: LRU               # FIFO, LIFO, LRU, MRU, RR or RedisCache
          import: selinon.caches  # the default
          configuration:
            max_cache_size: 128

Every in-process cache holds at most ``max_cache_size`` items (``0``, the default, stores
nothing).  Adding an id that is already cached is a no-op and does not count as a use.  When a
new item does not fit, one item is evicted first:

====  =========================================  ======================
cache evicts                                     ``get`` counts as use
====  =========================================  ======================
FIFO  the oldest inserted item                   no
LIFO  the most recently inserted item            no
LRU   the least recently used (added or read)    yes
MRU   the most recently used (added or read)     yes
RR    an item chosen at random                   no
====  =========================================  ======================

All caches are thread-safe.  :func:`build_cache` turns a
:class:`~selinon_core.config.spec.CacheSpec` into a cache instance.
"""

from __future__ import annotations

import json
import random
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, ClassVar

from selinon_backends._clients import redis_client, redis_errors
from selinon_core.caching import Cache, CacheMissError
from selinon_core.errors import BackendError, Problem, SpecError

if TYPE_CHECKING:
    import redis

    from selinon_core.config.spec import CacheSpec
    from selinon_core.config.system import System

__all__ = [
    "FIFO",
    "LIFO",
    "LRU",
    "MRU",
    "RR",
    "Cache",
    "CacheMissError",
    "RedisCache",
    "build_cache",
]


def _check_size(max_cache_size: int) -> int:
    if isinstance(max_cache_size, bool) or not isinstance(max_cache_size, int):
        raise TypeError(f"max_cache_size must be an integer, got {max_cache_size!r}")
    if max_cache_size < 0:
        raise ValueError(f"max_cache_size must be >= 0, got {max_cache_size}")
    return max_cache_size


class _BoundedCache:
    """A bounded, thread-safe cache over an ordered dict.

    Subclasses choose the victim: by default one end of the insertion order (``_victim_last``),
    optionally moving an item to the end when it is read (``_bump_on_get``); :class:`RR`
    overrides :meth:`_evict_one` and :meth:`_insert` instead.
    """

    _victim_last: ClassVar[bool] = False
    _bump_on_get: ClassVar[bool] = False

    def __init__(self, max_cache_size: int = 0) -> None:
        self.max_cache_size = _check_size(max_cache_size)
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def add(
        self,
        item_id: str,
        item: Any,
        task_name: str | None = None,
        flow_name: str | None = None,
    ) -> None:
        """Cache ``item`` under ``item_id``, evicting one item first when the cache is full."""
        if self.max_cache_size == 0:
            return
        with self._lock:
            if item_id in self._items:
                return
            while len(self._items) + 1 > self.max_cache_size:
                self._evict_one()
            self._insert(item_id, item)

    def get(
        self,
        item_id: str,
        task_name: str | None = None,
        flow_name: str | None = None,
    ) -> Any:
        """The item cached under ``item_id``; raises ``CacheMissError`` when absent."""
        with self._lock:
            try:
                item = self._items[item_id]
            except KeyError:
                raise CacheMissError(item_id) from None
            if self._bump_on_get:
                self._items.move_to_end(item_id)
            return item

    def _evict_one(self) -> None:
        """Drop one item (the lock is held and the cache is not empty)."""
        self._items.popitem(last=self._victim_last)

    def _insert(self, item_id: str, item: Any) -> None:
        """Add a new item (the lock is held and there is room)."""
        self._items[item_id] = item

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        with self._lock:
            return item_id in self._items

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_cache_size={self.max_cache_size})"


class FIFO(_BoundedCache):
    """First in, first out: evicts the oldest inserted item; reads do not change the order.

    Args:
        max_cache_size: the most items kept; ``0`` keeps nothing.
    """


class LIFO(_BoundedCache):
    """Last in, first out: evicts the most recently inserted item; reads do not change the order.

    Args:
        max_cache_size: the most items kept; ``0`` keeps nothing.
    """

    _victim_last = True


class LRU(_BoundedCache):
    """Least recently used: evicts the item added or read longest ago.

    Args:
        max_cache_size: the most items kept; ``0`` keeps nothing.
    """

    _bump_on_get = True


class MRU(_BoundedCache):
    """Most recently used: evicts the item added or read last.

    Args:
        max_cache_size: the most items kept; ``0`` keeps nothing.
    """

    _victim_last = True
    _bump_on_get = True


class RR(_BoundedCache):
    """Random replacement: evicts an item chosen at random (O(1) add, get and evict).

    Args:
        max_cache_size: the most items kept; ``0`` keeps nothing.
        rng: the random source; inject a seeded ``random.Random`` for reproducible eviction.
    """

    def __init__(self, max_cache_size: int = 0, rng: random.Random | None = None) -> None:
        super().__init__(max_cache_size)
        self._rng = rng if rng is not None else random.Random()
        self._keys: list[str] = []
        self._index: dict[str, int] = {}

    def _evict_one(self) -> None:
        item_id = self._keys[self._rng.randrange(len(self._keys))]
        position = self._index.pop(item_id)
        last = self._keys.pop()
        if last != item_id:
            self._keys[position] = last
            self._index[last] = position
        del self._items[item_id]

    def _insert(self, item_id: str, item: Any) -> None:
        self._index[item_id] = len(self._keys)
        self._keys.append(item_id)
        self._items[item_id] = item


# --------------------------------------------------------------------------- Redis


class RedisCache:
    """A cache shared by every worker, kept in Redis.

    Each item is stored as JSON under the key ``<prefix><item_id>`` (default prefix
    ``selinon:cache:``), written with ``SET NX`` so that adding an id already cached is a no-op,
    and optionally expiring after ``ttl`` seconds.  Size is bounded by ``ttl`` and by the
    server's ``maxmemory-policy``, not by a count.

    Connection errors raise :class:`~selinon_core.errors.TransientBackendError`, other Redis
    errors :class:`~selinon_core.errors.BackendError`; callers trace them and read the storage.

    Args:
        host: Redis host.
        port: Redis port.
        db: database number.
        password: password, if the server needs one.
        prefix: prepended to every key.
        ttl: seconds an item lives; ``None`` keeps items until Redis evicts them.
        socket_timeout: seconds to wait for the server before giving up.
        charset: encoding of the stored JSON (Selinon's key name).
        errors: how decoding errors are handled (Selinon's key name).
        unix_socket_path: connect through a Unix socket instead of TCP.
        max_connections: size of the connection pool (``None``: unbounded).
        max_cache_size: accepted for compatibility with the default cache configuration and
            ignored: Redis bounds its memory itself.
        url: a ``redis://`` URL; when given it overrides host, port, db and password.

    Raises:
        MissingExtraError: redis-py is not installed (the ``redis`` extra).
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        password: str | None = None,
        *,
        prefix: str = "selinon:cache:",
        ttl: float | None = None,
        socket_timeout: float | None = 5.0,
        charset: str = "utf-8",
        errors: str = "strict",
        unix_socket_path: str | None = None,
        max_connections: int | None = None,
        max_cache_size: int | None = None,
        url: str | None = None,
    ) -> None:
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        self.prefix = prefix
        self.ttl = ttl
        self._charset = charset
        self._errors = errors
        self._client: redis.Redis[bytes] = redis_client(
            url=url,
            host=host,
            port=port,
            db=db,
            password=password,
            socket_timeout=socket_timeout,
            unix_socket_path=unix_socket_path,
            max_connections=max_connections,
            wait_for_connection=True,
            purpose="RedisCache",
        )

    def key(self, item_id: str) -> str:
        """The Redis key an item is stored under."""
        return f"{self.prefix}{item_id}"

    def add(
        self,
        item_id: str,
        item: Any,
        task_name: str | None = None,
        flow_name: str | None = None,
    ) -> None:
        """Store ``item`` as JSON unless ``item_id`` is cached already.

        Raises:
            TypeError: ``item`` is not JSON-serialisable.
            TransientBackendError: Redis is unreachable.
            BackendError: Redis refused the command.
        """
        payload = json.dumps(item, separators=(",", ":")).encode(self._charset, self._errors)
        expire_ms = None if self.ttl is None else max(1, round(self.ttl * 1000))
        with redis_errors(what="Redis cache"):
            self._client.set(self.key(item_id), payload, nx=True, px=expire_ms)

    def get(
        self,
        item_id: str,
        task_name: str | None = None,
        flow_name: str | None = None,
    ) -> Any:
        """The item cached under ``item_id``.

        Raises:
            CacheMissError: nothing is cached under ``item_id`` (or it expired).
            TransientBackendError: Redis is unreachable.
            BackendError: Redis refused the command or the stored value is not JSON.
        """
        with redis_errors(what="Redis cache"):
            raw = self._client.get(self.key(item_id))
        if raw is None:
            raise CacheMissError(item_id)
        try:
            return json.loads(bytes(raw).decode(self._charset, self._errors))
        except ValueError as exc:
            raise BackendError(f"Redis cache key {self.key(item_id)!r} holds no JSON") from exc

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __repr__(self) -> str:
        return f"RedisCache(prefix={self.prefix!r}, ttl={self.ttl!r})"


# --------------------------------------------------------------------------- factory


def build_cache(spec: CacheSpec, system: System) -> Cache:
    """Instantiate the cache a ``cache:`` entry describes.

    The class is resolved through ``system.resolve`` (so ``selinon.caches`` names this module)
    and called with ``spec.configuration`` as keyword arguments.

    Raises:
        SpecError: the class cannot be imported, rejects its configuration, or does not offer
            ``add`` and ``get``.
    """
    factory = system.resolve(spec.import_, spec.name)
    where = f"cache {spec.name!r} from {spec.import_!r}"
    if not callable(factory):
        raise SpecError(Problem(f"{where} is not a class or callable"))
    try:
        cache = factory(**dict(spec.configuration))
    except (TypeError, ValueError) as exc:
        raise SpecError(
            Problem(
                f"{where} rejected its configuration {dict(spec.configuration)!r}: {exc}",
                hint="check the keys under 'configuration'",
            )
        ) from exc
    if not isinstance(cache, Cache):
        raise SpecError(Problem(f"{where} has no add() and get() methods"))
    return cache
