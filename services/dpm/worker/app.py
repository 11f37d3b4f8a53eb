"""The Celery application: broker, serialization, delivery guarantees, process setup.

The tasks it runs are matching's (``dpm.matching.rematch``); they are
idempotent (they take ids and versions and re-read everything), so they are
acknowledged late: a worker killed mid-task leaves the message on the broker
for another worker.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from celery import Celery
from celery.apps import worker as celery_worker
from celery.signals import (
    beat_embedded_init,
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    worker_process_init,
    worker_process_shutdown,
)
from opentelemetry.instrumentation.celery import CeleryInstrumentor

from dpm.matching import rematch
from dpm.platform.config import load
from dpm.platform.events import Queue
from dpm.platform.logs import configure_logging, json_line
from dpm.platform.telemetry import (
    configure_telemetry,
    dead_messages,
    shutdown_telemetry,
    task_duration,
    task_retries,
)
from dpm.worker.lifetime import die_with_parent
from dpm.worker.queues import routes
from dpm.worker.schedule import beat_schedule
from dpm.worker.settings import WorkerSettings


def create_app(settings: WorkerSettings) -> Celery:
    app = Celery("dpm", broker=settings.celery_broker_url, include=[rematch.__name__])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=Queue.REMATCH.in_deployment(settings.deployment),
        task_routes=routes(settings.deployment),
        # Remote control (pidbox) and events on exchanges of this deployment only.
        control_exchange=settings.deployment,
        event_exchange=f"{settings.deployment}.events",
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "confirm_publish": True,
            # Redis: how soon a dead worker's unacknowledged task is taken up again.
            "visibility_timeout": settings.broker_visibility_timeout_seconds,
            "unacked_restore_interval": max(1, round(settings.broker_restore_interval_seconds)),
            "unacked_restore_throttle": 1,
            # Redis: the bookkeeping of unacknowledged tasks is this deployment's own,
            # so a worker never restores another deployment's task into its queue.
            "unacked_key": f"{settings.deployment}.unacked",
            "unacked_index_key": f"{settings.deployment}.unacked_index",
            "unacked_mutex_key": f"{settings.deployment}.unacked_mutex",
        },
        worker_hijack_root_logger=False,
        beat_schedule=beat_schedule(settings),
    )
    return app


@setup_logging.connect
def _logging(**_: Any) -> None:
    configure_logging("worker", settings.log_level)


def _say_in_json(message: str, _file: Any = None) -> None:
    """Celery's shutdown notices ("worker: Warm shutdown") come from a signal handler,
    written straight to a file descriptor (``celery.apps.worker.safe_say``); Celery has
    no setting for them. Here they are JSON lines like the rest, on stderr, written the
    same lock-free way."""
    os.write(2, json_line("worker", "INFO", "celery.apps.worker", message.strip()))


celery_worker.safe_say = _say_in_json

# When each task run of this pool process started, by task id.
_started: dict[str, float] = {}


@worker_process_shutdown.connect
def _process_shutdown(**_: Any) -> None:
    """A pool process that ends flushes its spans and metrics to the collector."""
    shutdown_telemetry()


@task_prerun.connect
def _task_started(task_id: str, **_: Any) -> None:
    _started[task_id] = time.monotonic()


@task_postrun.connect
def _task_ended(task_id: str, task: Any, state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id, None)
    if started is not None:
        outcome = (state or "UNKNOWN").lower()
        task_duration.record(time.monotonic() - started, {"task": task.name, "outcome": outcome})


@task_retry.connect
def _task_retried(sender: Any = None, **_: Any) -> None:
    task_retries.add(1, {"task": getattr(sender, "name", "unknown")})


@task_failure.connect
def _task_failed(sender: Any = None, **_: Any) -> None:
    dead_messages.add(1, {"task": getattr(sender, "name", "unknown")})


@worker_process_init.connect
def _process_init(**_: Any) -> None:
    """After the fork: telemetry exporters and gRPC channels belong to the child.

    A pool process ends with the worker that forked it, even a killed one (its
    unacknowledged task is redelivered), so it never outlives it as an orphan.
    """
    die_with_parent(os.getppid(), signal.SIGKILL)
    configure_telemetry("dpm-worker")
    instrumentor = CeleryInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
    rematch.runtime()


@beat_embedded_init.connect
def _beat_init(**_: Any) -> None:
    """The scheduler of `dpmatch worker --beat` (a child process) ends with the worker."""
    die_with_parent(os.getppid(), signal.SIGTERM)


settings = load(WorkerSettings)
app = create_app(settings)
