"""The distributed runtime on Kombu (RabbitMQ or Redis brokers).

* :class:`Client`: start flows and follow them from any process;
* :class:`KombuWorker`: consume task and dispatcher queues (``selinon-cli worker``);
* :mod:`.transport`: connections, queues, the publisher and the dead-letter queue.

See ``docs/distributed.md``.
"""

from selinon_backends.kombu.client import Client, FlowTimeout, resolve_state_store
from selinon_backends.kombu.worker import KombuWorker, worker_queues

__all__ = ["Client", "FlowTimeout", "KombuWorker", "resolve_state_store", "worker_queues"]
