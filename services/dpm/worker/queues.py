"""The contract between producers (outbox relays) and the worker: queues and task names.

Producers publish by name (``dpm.platform.outbox``) and never import the
worker's task code; this module is the only thing both sides share.
"""

from __future__ import annotations

import enum


class Queue(enum.StrEnum):
    # Consumed by `dpmatch worker` (celery -Q rematch): changes that need re-matching.
    REMATCH = "dpm.rematch"


class Task(enum.StrEnum):
    # kwargs: event_id: str, graph_version: int, upstream: list[str] (org ids whose
    # competitor groups may see a changed exposure: the changed holders and their ancestors)
    OWNERSHIP_CHANGED = "dpm.ownership_changed"
    # kwargs: catalog_version: int, vendor: str ("organizations/{id}")
    CATALOG_CHANGED = "dpm.catalog_changed"
    # kwargs: client: str ("clients/{id}"), revision: int (0 when the client was deleted)
    CLIENT_CHANGED = "dpm.client_changed"
    # kwargs: clients: list[str], reason: str. Internal fan-out chunk.
    REMATCH_CLIENTS = "dpm.rematch_clients"
    # No kwargs. Periodic: re-match every client and report drift.
    RECONCILE = "dpm.reconcile"
