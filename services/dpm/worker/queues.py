"""The queues a worker consumes, and which queue each task it runs goes to.

Queue names belong to the change-event contract (``dpm.platform.events``),
so producers publish without importing the worker.
"""

from __future__ import annotations

from typing import Any

from dpm.matching import rematch
from dpm.platform.events import CatalogChanged, ClientChanged, OwnershipChanged, Queue

# What `dpmatch worker` listens to.
CONSUMED: tuple[Queue, ...] = (Queue.REMATCH,)

# Celery's task_routes: every task on the queue that carries its kind of work.
ROUTES: dict[str, dict[str, Any]] = {
    task: {"queue": Queue.REMATCH.value}
    for task in (
        OwnershipChanged.TASK,
        CatalogChanged.TASK,
        ClientChanged.TASK,
        rematch.REMATCH_CLIENTS,
        rematch.RECONCILE,
    )
}
