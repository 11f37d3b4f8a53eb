"""The Celery application: broker, serialization and delivery guarantees.

Tasks are idempotent (they take ids and versions and re-read everything), so
they are acknowledged late: a worker killed mid-task leaves the message on the
broker for another worker.
"""

from __future__ import annotations

from celery import Celery

from dpm.platform.config import load
from dpm.worker.queues import Queue
from dpm.worker.schedule import beat_schedule
from dpm.worker.settings import WorkerSettings


def create_app(settings: WorkerSettings) -> Celery:
    app = Celery("dpm", broker=settings.celery_broker_url, include=["dpm.worker.tasks"])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=Queue.REMATCH.value,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "confirm_publish": True,
            # Redis: how soon a dead worker's unacknowledged task is taken up again.
            "visibility_timeout": settings.broker_visibility_timeout_seconds,
            "unacked_restore_interval": max(
                1, round(settings.broker_visibility_timeout_seconds / 3)
            ),
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=False,
        beat_schedule=beat_schedule(settings),
    )
    return app


settings = load(WorkerSettings)
app = create_app(settings)
