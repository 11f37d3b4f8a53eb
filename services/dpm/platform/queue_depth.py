"""How many messages wait in the broker queues: the gauge ``dpm.worker.queue_depth``.

The servers that publish to the queues (those with an outbox) report it, since the
worker's main process, which sees the broker, runs no telemetry of its own (its pool
processes do). An operator reads it as the workers' lag; an autoscaler scales the
workers on it (deploy/k8s/base/worker.yaml). Replicas report the same figure.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable

from kombu import Connection
from kombu.exceptions import ChannelError
from opentelemetry.metrics import CallbackOptions, Observation

from dpm.platform.telemetry import meter

log = logging.getLogger(__name__)


class QueueDepth:
    """Messages waiting in ``queues`` of the broker at ``broker_url``, over one connection
    kept open (opened again after a failure)."""

    def __init__(self, broker_url: str, queues: list[str]) -> None:
        self._connection = Connection(broker_url, connect_timeout=2)
        self._queues = queues
        self._lock = threading.Lock()

    def depths(self) -> dict[str, int]:
        """Each queue's waiting messages; empty when the broker does not answer."""
        with self._lock:
            try:
                return {queue: self._depth(queue) for queue in self._queues}
            except Exception as exc:
                log.debug("queue depth unknown: %s", exc)
                self._connection.close()
                return {}

    def _depth(self, queue: str) -> int:
        channel = self._connection.default_channel
        try:
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except ChannelError:
            # Not declared yet, or (Redis) empty: Redis drops an empty list's key.
            # AMQP closes the channel on NOT_FOUND: open a new one next time.
            self._connection.close()
            return 0

    def close(self) -> None:
        with self._lock:
            self._connection.close()


_WATCHED: weakref.WeakSet[QueueDepth] = weakref.WeakSet()


def watch(broker_url: str, queues: list[str]) -> QueueDepth:
    """Report ``queues``' depth from now on (until the returned object is closed and gone)."""
    depth = QueueDepth(broker_url, queues)
    _WATCHED.add(depth)
    return depth


def _observe(_options: CallbackOptions) -> Iterable[Observation]:
    for depth in list(_WATCHED):
        for queue, count in depth.depths().items():
            yield Observation(count, {"queue": queue})


meter.create_observable_gauge(
    "dpm.worker.queue_depth",
    callbacks=[_observe],
    description="Messages waiting in the deployment's broker queues for a worker, by queue",
)
