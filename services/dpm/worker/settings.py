"""Settings of the worker process: broker delivery and the periodic schedule."""

from __future__ import annotations

from pydantic import Field

from dpm.matching.rematch import RETRY_BACKOFF_MAX_SECONDS
from dpm.platform.config import CommonSettings


class WorkerSettings(CommonSettings):
    # Seconds between full reconciliations (run by the beat scheduler).
    reconcile_interval_seconds: float = 600.0
    # Redis broker only: a task taken by a worker that died unacknowledged goes
    # back to the queue this long after it was taken (RabbitMQ requeues it at
    # once). It must exceed the longest task and the longest retry countdown
    # (tasks are chunked to run in seconds; retries wait at most 20 s), or a
    # live worker's task is delivered twice.
    broker_visibility_timeout_seconds: float = Field(default=30.0, gt=RETRY_BACKOFF_MAX_SECONDS)
    # Redis broker only: seconds between scans for such tasks.
    broker_restore_interval_seconds: float = Field(default=2.0, gt=0)
