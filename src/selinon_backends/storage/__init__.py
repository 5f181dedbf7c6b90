"""Result storages: adapters keeping Selinon's ``DataStorage`` surface, and the storage pool.

Each adapter lives in its own module so that its client library is imported only when used:

============================  ================================  =========================
Selinon YAML ``import``        our module                        class
============================  ================================  =========================
``selinon.storages.memory``    ``selinon_backends.storage.memory``      ``InMemoryStorage``
``selinon.storages.filesystem`` ``selinon_backends.storage.filesystem`` ``Filesystem``
``selinon.storages.redis``     ``selinon_backends.storage.redis``       ``Redis``
``selinon.storages.postgresql`` ``selinon_backends.storage.postgresql`` ``PostgreSQL``
``selinon.storages.s3``        ``selinon_backends.storage.s3``          ``S3`` / ``S3Storage``
============================  ================================  =========================
"""

from __future__ import annotations

from selinon_core.datastorage import DataStorage

from .filesystem import Filesystem
from .memory import InMemoryStorage
from .pool import StoragePool, StoragePoolView

__all__ = ["DataStorage", "Filesystem", "InMemoryStorage", "StoragePool", "StoragePoolView"]
