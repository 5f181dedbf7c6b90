"""Everything a distributed runtime keeps outside the broker, opened from one URL.

``--state-store URL`` names one service (``redis://``, ``postgresql://``, or ``memory://``
for a single process) that holds the flow states (:class:`~selinon_backends.ports.FlowStateStore`),
the throttling slots (:class:`~selinon_backends.ports.SlotStore`), the run journal
(:mod:`.journal`) and the delayed messages (:mod:`.delays`).  ``memory://NAME`` stores are
shared by every user of the same URL in this process (tests run a worker and a client in one
process with Kombu's ``memory://`` broker).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from selinon_backends.distributed.delays import (
    DelayStore,
    MemoryDelayStore,
    PostgresDelayStore,
    RedisDelayStore,
)
from selinon_backends.distributed.journal import (
    Journal,
    MemoryJournal,
    PostgresJournal,
    RedisJournal,
)
from selinon_backends.ports import FlowStateStore, SlotStore
from selinon_core.errors import SpecError

__all__ = ["Backends", "broker_scope", "describe_url", "open_backends"]


@dataclass
class Backends:
    """The stores of one state-store URL."""

    url: str
    states: FlowStateStore
    slots: SlotStore
    journal: Journal
    delays: DelayStore
    shared: bool = False

    def close(self) -> None:
        """Close every store (a shared ``memory://`` bundle stays open)."""
        if self.shared:
            return
        for store in (self.states, self.slots, self.journal, self.delays):
            close = getattr(store, "close", None)
            if close is not None:
                close()


def describe_url(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


_MEMORY: dict[str, Backends] = {}
_MEMORY_LOCK = threading.Lock()


def broker_scope(broker: str | None) -> str:
    """A short name of ``broker`` for the keys of its delayed messages (``""`` for none).

    Deployments may share a state store and use different brokers: each broker's delayed
    messages are kept apart, so a worker never publishes another deployment's message to its
    own broker.
    """
    if not broker:
        return ""
    return hashlib.sha1(describe_url(broker).encode(), usedforsecurity=False).hexdigest()[:10]


def open_backends(
    url: str, *, prefix: str = "selinon", broker: str | None = None, **options: Any
) -> Backends:
    """Open the stores that ``url`` names.

    Args:
        url: ``redis://...``, ``rediss://...``, ``postgresql://...``/``postgres://...`` or
            ``memory://NAME``.
        prefix: prefix of every key or table the stores create.
        broker: the broker URL of the runtime (keeps its delayed messages apart).
        options: passed to the flow-state store.

    Raises:
        SpecError: an unsupported scheme (the message never shows a password).
        MissingExtraError: the client library of the scheme is not installed.
    """
    from selinon_backends.state import open_slot_store, open_state_store  # noqa: PLC0415

    scheme = urlsplit(url).scheme.lower()
    scope = broker_scope(broker)
    if scheme == "memory":
        with _MEMORY_LOCK:
            found = _MEMORY.get(url)
            if found is None:
                found = _MEMORY[url] = Backends(
                    url,
                    open_state_store(url, **options),
                    open_slot_store(url),
                    MemoryJournal(),
                    MemoryDelayStore(),
                    shared=True,
                )
            return found
    if scheme in ("redis", "rediss"):
        return Backends(
            url,
            open_state_store(url, prefix=f"{prefix}:state", **options),
            open_slot_store(url, prefix=f"{prefix}:slot"),
            RedisJournal(url, prefix=prefix),
            RedisDelayStore(url, prefix=f"{prefix}:{scope}" if scope else prefix),
        )
    if scheme in ("postgresql", "postgres"):
        return Backends(
            url,
            open_state_store(url, table_prefix=prefix, **options),
            open_slot_store(url, table_prefix=prefix),
            PostgresJournal(url, prefix=prefix),
            PostgresDelayStore(url, prefix=f"{prefix}_{scope}" if scope else prefix),
        )
    raise SpecError(
        f"unsupported state store {describe_url(url)!r}: use redis://HOST:PORT/DB, "
        "postgresql://USER@HOST:PORT/DB or memory://NAME"
    )
