"""The queues a worker consumes, and which queue each task it runs goes to.

Queue names belong to the change-event contract (``dpm.platform.events``),
so producers publish without importing the worker; on the broker each is
namespaced by the deployment ("<deployment>.rematch").
"""

from __future__ import annotations

from typing import Any

from dpm.matching import rematch
from dpm.platform.events import CatalogChanged, ClientChanged, OwnershipChanged, Queue

# What `dpmatch worker` listens to.
CONSUMED: tuple[Queue, ...] = (Queue.REMATCH,)

# Every task a worker runs, by the queue that carries its kind of work.
TASKS: dict[str, Queue] = {
    task: Queue.REMATCH
    for task in (
        OwnershipChanged.TASK,
        CatalogChanged.TASK,
        ClientChanged.TASK,
        rematch.REMATCH_CLIENTS,
        rematch.RECONCILE,
        rematch.RECONCILE_CLIENTS,
    )
}


def consumed(deployment: str) -> list[str]:
    """The broker queues `dpmatch worker` of ``deployment`` consumes (celery -Q)."""
    return [queue.in_deployment(deployment) for queue in CONSUMED]


def routes(deployment: str) -> dict[str, dict[str, Any]]:
    """Celery's task_routes: every task to its queue in ``deployment``."""
    return {task: {"queue": queue.in_deployment(deployment)} for task, queue in TASKS.items()}
