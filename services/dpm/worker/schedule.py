"""Periodic tasks (run by `dpmatch worker --beat` or a separate celery beat)."""

from __future__ import annotations

from typing import Any

from dpm.matching import rematch
from dpm.platform.events import Queue
from dpm.worker.settings import WorkerSettings


def beat_schedule(settings: WorkerSettings) -> dict[str, dict[str, Any]]:
    return {
        "reconcile-all-clients": {
            "task": rematch.RECONCILE,
            "schedule": settings.reconcile_interval_seconds,
            "options": {"queue": Queue.REMATCH.in_deployment(settings.deployment)},
        }
    }
