"""Periodic tasks (run by `dpmatch worker --beat` or a separate celery beat)."""

from __future__ import annotations

from typing import Any

from dpm.worker.queues import Queue, Task
from dpm.worker.settings import WorkerSettings


def beat_schedule(settings: WorkerSettings) -> dict[str, dict[str, Any]]:
    return {
        "reconcile-all-clients": {
            "task": Task.RECONCILE.value,
            "schedule": settings.reconcile_interval_seconds,
            "options": {"queue": Queue.REMATCH.value},
        }
    }
