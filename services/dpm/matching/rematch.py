"""Re-matching: the tasks that keep cached recommendation sets fresh when their inputs change.

A change event arrives (``dpm.platform.events``: ownership, catalog or
client), the task works out which clients it can affect, fans them out in
chunks, and each chunk recomputes its clients and compare-and-sets the
results into Redis. Every task takes ids and versions, re-reads its inputs
and is idempotent, so the worker acknowledges late and a redelivery is
harmless. The worker process (``dpm.worker``) runs these; nothing here
knows about it.
"""

from __future__ import annotations

import enum
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis
from celery import Task as CeleryTask
from celery import shared_task

from dpm.matching.cache import Encoded, RecommendationCache, dominates
from dpm.matching.compute import RecommendationBuilder, refresh, refresh_many
from dpm.matching.settings import RematchSettings
from dpm.matching.upstreams import Upstreams
from dpm.matching.v1 import matching_pb2
from dpm.platform.config import load
from dpm.platform.errors import DomainError, Unavailable
from dpm.platform.events import CatalogChanged, ClientChanged, OwnershipChanged, Queue
from dpm.platform.names import ClientName, OrganizationName
from dpm.platform.telemetry import event_to_fresh, rematched_clients
from dpm.platform.upstream import calling
from dpm.requirements.v1 import requirements_pb2

log = logging.getLogger(__name__)

# Matching's own tasks (not change events: nobody outside matching sends them).
REMATCH_CLIENTS = "dpm.rematch_clients"  # kwargs: clients: list[str] (ids), reason: str
RECONCILE = "dpm.reconcile"  # periodic, no kwargs: fans out RECONCILE_CLIENTS
RECONCILE_CLIENTS = "dpm.reconcile_clients"  # kwargs: clients: list[str] (ids)

# Longest wait before a retry. With the Redis broker a task is redelivered when
# it stays unacknowledged longer than the visibility timeout (a retry waiting
# for its countdown counts), so the worker's timeout must exceed this
# (WorkerSettings checks it); tasks themselves work in chunks of seconds.
RETRY_BACKOFF_MAX_SECONDS = 20


@dataclass
class Runtime:
    """Per-process connections, made after the fork (never shared across processes)."""

    pid: int
    settings: RematchSettings
    upstreams: Upstreams
    cache: RecommendationCache
    builder: RecommendationBuilder
    reconcile_run: str | None = None  # the reconciliation whose chunks this process last ran


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's connections, opened on first use (call it in worker_process_init)."""
    global _runtime
    if _runtime is None or _runtime.pid != os.getpid():
        settings = load(RematchSettings)
        upstreams = Upstreams.open(settings, "worker")
        cache = RecommendationCache(
            redis.Redis.from_url(settings.redis_url, socket_timeout=10), settings.cache_prefix
        )
        _runtime = Runtime(
            os.getpid(),
            settings,
            upstreams,
            cache,
            RecommendationBuilder(upstreams, settings.recommendation_set_size),
        )
    return _runtime


def client_ids(competitors: list[OrganizationName] | None) -> Iterator[str]:
    """Every client, or those whose policy names one of ``competitors``."""
    stub = runtime().upstreams.requirements
    token = ""
    while True:
        with calling("requirements"):
            page = stub.ListClients(
                requirements_pb2.ListClientsRequest(
                    page_size=1000,
                    page_token=token,
                    competitors_any=[str(c) for c in competitors or []],
                    names_only=True,
                )
            )
        for client in page.clients:
            yield ClientName.trusted(client.name).id
        token = page.next_page_token
        if not token:
            return


def chunks(ids: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for client_id in ids:
        chunk.append(client_id)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def queue() -> str:
    """The broker queue of this deployment's re-match work."""
    return Queue.REMATCH.in_deployment(runtime().settings.deployment)


def fan_out(
    ids: Iterator[str],
    reason: str,
    graph_version: int = 0,
    catalog_version: int = 0,
    written_at: float = 0.0,
) -> int:
    """Queue re-match tasks for ``ids`` in chunks; return how many clients were queued.

    With ``graph_version``, each client's cached set is marked stale for that
    version first, so readers see it is being recomputed. The versions go with
    the tasks, which skip clients already computed from them (``already_fresh``),
    and so does the event's ``written_at``, to time it (``event_to_fresh``).
    """
    rt = runtime()
    total = 0
    for chunk in chunks(ids, rt.settings.rematch_chunk_size):
        kwargs: dict[str, Any] = {"clients": chunk, "reason": reason}
        if graph_version:
            rt.cache.mark_pending(chunk, graph_version)
            kwargs["graph_version"] = graph_version
        if catalog_version:
            kwargs["catalog_version"] = catalog_version
        if written_at:
            kwargs["written_at"] = written_at
        rematch_clients.apply_async(kwargs=kwargs, queue=queue())
        total += len(chunk)
    return total


RETRYING: dict[str, Any] = {
    "bind": True,
    "autoretry_for": (Unavailable,),
    "retry_backoff": 1,
    "retry_backoff_max": RETRY_BACKOFF_MAX_SECONDS,
    "max_retries": None,
}


@shared_task(name=OwnershipChanged.TASK, **RETRYING)
def ownership_changed(self: CeleryTask, **payload: Any) -> int:
    """Only clients that name an organization upstream of the change can see a new exposure."""
    event = OwnershipChanged.from_payload(payload)
    runtime().cache.announce_graph_version(event.graph_version)
    if not event.upstream:
        return 0
    reason = f"event {event.event.id} (graph v{event.graph_version})"
    count = fan_out(
        client_ids(list(event.upstream)),
        reason,
        event.graph_version,
        written_at=event.written_at,
    )
    log.info("%s affects %d clients", reason, count)
    return count


@shared_task(name=CatalogChanged.TASK, **RETRYING)
def catalog_changed(self: CeleryTask, **payload: Any) -> int:
    """Every client can see a catalog change; a burst of them fans out once or a few times.

    The tasks of a fan-out read the catalog when they run, so a fan-out started
    for a later version covers this one (the same version again, a redelivery,
    goes on: the fan-out may not have finished)."""
    event = CatalogChanged.from_payload(payload)
    reason = f"catalog v{event.catalog_version} ({event.organization})"
    started = runtime().cache.start_catalog_fan_out(event.catalog_version)
    if started > event.catalog_version:
        log.info("%s: covered by the re-match for catalog v%d", reason, started)
        return 0
    count = fan_out(client_ids(None), reason, catalog_version=event.catalog_version)
    log.info("%s re-matches %d clients", reason, count)
    return count


@shared_task(name=ClientChanged.TASK, **RETRYING)
def client_changed(self: CeleryTask, **payload: Any) -> None:
    event = ClientChanged.from_payload(payload)
    rt = runtime()
    if event.deleted:
        rt.cache.delete(event.client.id)
        return
    stored = rt.cache.versions(event.client.id)
    if stored is not None and stored.requirements_revision >= event.revision:
        # Already computed from this revision or a later one (a burst of updates).
        log.info("client %s already fresh at revision %d", event.client, event.revision)
        return
    refresh(rt.builder, rt.cache, event.client.id)
    rematched_clients.add(1, {"trigger": "client"})


def already_fresh(
    rt: Runtime, clients: list[str], graph_version: int, catalog_version: int = 0
) -> set[str]:
    """The clients whose stored set was computed from ``graph_version`` (or
    ``catalog_version``) or a later one.

    Under a burst of events the first re-match of a client reads the newest
    inputs; the tasks queued for the events before it then have nothing to do.
    """
    fresh: set[str] = set()
    for version, stored in (
        (graph_version, rt.cache.graph_versions),
        (catalog_version, rt.cache.catalog_versions),
    ):
        if version:
            fresh |= {
                c
                for c, v in zip(clients, stored(clients), strict=True)
                if v is not None and v >= version
            }
    return fresh


@shared_task(name=REMATCH_CLIENTS, **RETRYING)
def rematch_clients(
    self: CeleryTask,
    clients: list[str],
    reason: str,
    graph_version: int = 0,
    catalog_version: int = 0,
    written_at: float = 0.0,
) -> int:
    """Recompute ``clients`` from fresh inputs; with ``graph_version`` or
    ``catalog_version`` (the event's), skip those already computed from it or later.
    ``written_at``: when the event committed (see ``event_to_fresh``)."""
    rt = runtime()
    fresh = already_fresh(rt, clients, graph_version, catalog_version)
    clients = [c for c in clients if c not in fresh]
    if not clients:
        log.info("after %s: all %d clients already fresh", reason, len(fresh))
        return 0
    built = refresh_many(rt.builder, rt.cache, clients)
    for client_id, exc in built.failed.items():
        # One policy's failure must not hold back the other clients; readers of
        # these sets see they are stale and why.
        log.warning("re-matching %s after %s failed: %s", client_id, reason, _describe(exc))
        rt.cache.record_failure(client_id, f"re-matching failed: {_describe(exc)}")
    rematched_clients.add(len(clients), {"trigger": reason.split(" ", 1)[0]})
    if written_at:
        # Clocks of two machines: as good as their synchronisation (NTP: milliseconds).
        event_to_fresh.record(max(0.0, time.time() - written_at))
    log.info("re-matched %d clients after %s (%d already fresh)", len(clients), reason, len(fresh))
    return len(clients)


@shared_task(name=RECONCILE, **RETRYING)
def reconcile(self: CeleryTask) -> int:
    """Check every client against a fresh computation, in chunks (``reconcile_clients``).

    Chunks keep each task short, well under the broker's visibility timeout.
    """
    rt = runtime()
    total = tasks = 0
    # Each worker process reads the whole catalog again once per run (reconcile_clients).
    run = self.request.id or str(time.time())
    for chunk in chunks(client_ids(None), rt.settings.rematch_chunk_size):
        reconcile_clients.apply_async(kwargs={"clients": chunk, "run": run}, queue=queue())
        total, tasks = total + len(chunk), tasks + 1
    log.info("reconciling %d clients in %d tasks", total, tasks)
    return total


class Outcome(enum.Enum):
    """What the reconciliation found for one client (its counts are named after these)."""

    CHECKED = "checked"  # the cached set equals a fresh computation: nothing to do
    # Ranked or excluded vendors differ from a fresh computation (a lost event or
    # write): repaired, watchers notified.
    DRIFTED = "drifted"
    # Only the versions lagged, the content is equal: newer versions stored quietly.
    REFRESHED = "refreshed"
    # The set claims versions newer than its inputs have now (a restored database,
    # another stack's writes): replaced, watchers notified.
    AHEAD = "ahead"
    FILLED = "filled"  # nothing was cached: stored
    # Computing it failed (recorded on the client's set: readers see why it is stale).
    FAILED = "failed"
    GONE = "gone"  # the client no longer exists: its set is dropped


@shared_task(name=RECONCILE_CLIENTS, **RETRYING)
def reconcile_clients(self: CeleryTask, clients: list[str], run: str = "") -> dict[str, int]:
    """Recompute ``clients``; repair what drifted or is ahead, and count (see Outcome).

    ``run`` names the reconciliation: a process's first chunk of a run reads the
    whole catalog again, whatever its version says (``RecommendationBuilder.snapshot``).
    """
    rt = runtime()
    reread = run != rt.reconcile_run
    snapshot = rt.builder.snapshot(reread=reread)  # one catalog read for the whole chunk
    rt.reconcile_run = run
    counts = dict.fromkeys((o.value for o in Outcome if o is not Outcome.GONE), 0)
    cached = rt.cache.get_many(clients)  # read before computing: see reconcile_one
    built = rt.builder.build_many(clients, snapshot)
    fills: list[Encoded] = []  # stored together at the end
    for client_id, stored in zip(clients, cached, strict=True):
        try:
            if client_id in built.failed:
                raise built.failed[client_id]
            outcome = reconcile_one(rt, client_id, stored, built.encoded.get(client_id), fills)
        except Unavailable:
            raise  # a dependency is down: retry the chunk later
        except Exception as exc:
            # One client's failure must not stop the reconciliation of the others.
            log.exception("reconciling %s failed", client_id)
            rt.cache.record_failure(client_id, f"reconciliation failed: {_describe(exc)}")
            outcome = Outcome.FAILED
        if outcome is not Outcome.GONE:
            counts[Outcome.CHECKED.value] += 1
            if outcome is not Outcome.CHECKED:
                counts[outcome.value] += 1
    # A set written meanwhile by a re-match stands (compare-and-set): nothing to redo.
    rt.cache.put_many(fills)
    log.info(
        "reconciled %d clients: %d drifted, %d refreshed, %d ahead, %d filled, %d failed",
        *(counts[o.value] for o in Outcome if o is not Outcome.GONE),
    )
    return counts


def reconcile_one(
    rt: Runtime,
    client_id: str,
    cached: matching_pb2.RecommendationSet | None,
    computed: Encoded | None,
    fills: list[Encoded],
) -> Outcome:
    """Compare the set read before the chunk was computed with the fresh one; repair
    (a missing set goes to ``fills``, for the caller to store as computed)."""
    if cached is None and computed is not None:
        fills.append(computed)
        return Outcome.FILLED
    fresh = None if computed is None else computed.decode()
    if fresh is not None and cached is not None and not dominates(fresh.versions, cached.versions):
        # The chunk's reads may predate a write made since: compare with inputs
        # read after the cached set was.
        cached = rt.cache.get(client_id)
        fresh = rt.builder.build(client_id)
    if fresh is None:
        rt.cache.delete(client_id)
        return Outcome.GONE
    if cached is None:
        fills.append(Encoded.of(fresh))
        return Outcome.FILLED
    same = _same_content(cached, fresh)
    if cached.versions == fresh.versions and same:
        return Outcome.CHECKED
    if not dominates(fresh.versions, cached.versions):
        outcome = Outcome.AHEAD
        log.warning(
            "cached set of %s is ahead of its inputs (%s, now %s): replaced",
            client_id,
            _text(cached.versions),
            _text(fresh.versions),
        )
    elif same:
        outcome = Outcome.REFRESHED
    else:
        outcome = Outcome.DRIFTED
        log.warning("drift for %s: cached from %s", client_id, _text(cached.versions))
    # Only if nothing was written since we read it (a newer write stands).
    rt.cache.repair(fresh, cached.versions, notify=outcome is not Outcome.REFRESHED)
    return outcome


def _text(v: matching_pb2.SourceVersions) -> str:
    return (
        f"graph v{v.graph_version}, catalog v{v.catalog_version}, "
        f"requirements r{v.requirements_revision}"
    )


def _describe(exc: Exception) -> str:
    return exc.message if isinstance(exc, DomainError) else type(exc).__name__


def _same_content(a: matching_pb2.RecommendationSet, b: matching_pb2.RecommendationSet) -> bool:
    return list(a.ranked) == list(b.ranked) and list(a.excluded) == list(b.excluded)
