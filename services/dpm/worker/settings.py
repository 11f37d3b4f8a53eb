"""Settings of the worker process: broker delivery and the periodic schedule."""

from __future__ import annotations

from dpm.platform.config import CommonSettings


class WorkerSettings(CommonSettings):
    # Seconds between full reconciliations (run by the beat scheduler).
    reconcile_interval_seconds: float = 600.0
    # Redis broker only: a task taken by a worker that died unacknowledged goes
    # back to the queue after this long (RabbitMQ requeues it at once). Must
    # exceed the longest retry countdown (60 s).
    broker_visibility_timeout_seconds: float = 300.0
