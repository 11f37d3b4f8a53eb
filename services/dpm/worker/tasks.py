"""Re-matching tasks. Each takes ids and versions, re-reads its inputs and is idempotent.

A change arrives (ownership event, catalog change, client change), the worker
works out which clients it can affect, fans them out in chunks, and each
chunk recomputes its clients and compare-and-sets the results into Redis.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis
from celery import Task as CeleryTask
from celery.signals import setup_logging, worker_process_init
from opentelemetry.instrumentation.celery import CeleryInstrumentor

from dpm.matching.cache import RecommendationCache
from dpm.matching.compute import RecommendationBuilder, Upstreams, open_upstreams, refresh
from dpm.matching.v1 import matching_pb2
from dpm.platform import auth
from dpm.platform.errors import Unavailable
from dpm.platform.logs import configure_logging
from dpm.platform.telemetry import configure_telemetry, rematched_clients
from dpm.platform.upstream import calling
from dpm.requirements.v1 import requirements_pb2
from dpm.worker.app import app, settings
from dpm.worker.queues import Queue, Task

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Per-process connections, made after the fork (never shared across processes)."""

    pid: int
    upstreams: Upstreams
    cache: RecommendationCache
    builder: RecommendationBuilder


_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None or _runtime.pid != os.getpid():
        _init_telemetry()
        upstreams = open_upstreams(settings, auth.service_token(settings.token_secret, "worker"))
        cache = RecommendationCache(
            redis.Redis.from_url(settings.redis_url, socket_timeout=10), settings.cache_prefix
        )
        _runtime = Runtime(os.getpid(), upstreams, cache, RecommendationBuilder(upstreams))
    return _runtime


def _init_telemetry() -> None:
    configure_telemetry("dpm-worker")
    instrumentor = CeleryInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


@setup_logging.connect
def _logging(**_: Any) -> None:
    configure_logging("worker", settings.log_level)


@worker_process_init.connect
def _process_init(**_: Any) -> None:
    runtime()


def client_ids(competitors: list[str] | None) -> Iterator[str]:
    """Every client, or those whose policy names one of ``competitors`` (org names)."""
    stub = runtime().upstreams.requirements
    token = ""
    while True:
        with calling("requirements"):
            page = stub.ListClients(
                requirements_pb2.ListClientsRequest(
                    page_size=1000, page_token=token, competitors_any=competitors or []
                )
            )
        for client in page.clients:
            yield client.name.removeprefix("clients/")
        token = page.next_page_token
        if not token:
            return


def fan_out(ids: Iterator[str], reason: str) -> int:
    chunk: list[str] = []
    total = 0
    for client_id in ids:
        chunk.append(client_id)
        if len(chunk) == settings.rematch_chunk_size:
            rematch_clients.apply_async(
                kwargs={"clients": chunk, "reason": reason}, queue=Queue.REMATCH.value
            )
            total, chunk = total + len(chunk), []
    if chunk:
        rematch_clients.apply_async(
            kwargs={"clients": chunk, "reason": reason}, queue=Queue.REMATCH.value
        )
        total += len(chunk)
    return total


RETRYING = {
    "bind": True,
    "autoretry_for": (Unavailable,),
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "max_retries": None,
}


@app.task(name=Task.OWNERSHIP_CHANGED.value, **RETRYING)
def ownership_changed(
    self: CeleryTask, event_id: str, graph_version: int, upstream: list[str]
) -> int:
    """Only clients that name an organization upstream of the change can see a new exposure."""
    competitors = [f"organizations/{org}" for org in upstream]
    if not competitors:
        return 0
    count = fan_out(client_ids(competitors), f"event {event_id} (graph v{graph_version})")
    log.info("event %s (graph v%d) affects %d clients", event_id, graph_version, count)
    return count


@app.task(name=Task.CATALOG_CHANGED.value, **RETRYING)
def catalog_changed(self: CeleryTask, catalog_version: int, vendor: str) -> int:
    count = fan_out(client_ids(None), f"catalog v{catalog_version} ({vendor})")
    log.info("catalog v%d (%s) re-matches %d clients", catalog_version, vendor, count)
    return count


@app.task(name=Task.CLIENT_CHANGED.value, **RETRYING)
def client_changed(self: CeleryTask, client: str, revision: int) -> None:
    client_id = client.removeprefix("clients/")
    if revision == 0:
        runtime().cache.delete(client_id)
        return
    rt = runtime()
    refresh(rt.builder, rt.cache, client_id)
    rematched_clients.add(1, {"trigger": "client"})


@app.task(name=Task.REMATCH_CLIENTS.value, **RETRYING)
def rematch_clients(self: CeleryTask, clients: list[str], reason: str) -> int:
    rt = runtime()
    snapshot = rt.builder.candidates()  # one catalog read for the whole chunk
    for client_id in clients:
        refresh(rt.builder, rt.cache, client_id, snapshot)
    rematched_clients.add(len(clients), {"trigger": reason.split(" ", 1)[0]})
    log.info("re-matched %d clients after %s", len(clients), reason)
    return len(clients)


@app.task(name=Task.RECONCILE.value, **RETRYING)
def reconcile(self: CeleryTask) -> dict[str, int]:
    """Recompute every client from scratch; repair and count cached sets that differ (drift)."""
    rt = runtime()
    checked = drifted = filled = 0
    for client_id in client_ids(None):
        fresh = rt.builder.build(client_id)
        if fresh is None:
            rt.cache.delete(client_id)
            continue
        checked += 1
        cached = rt.cache.get(client_id)
        if cached is None:
            filled += 1
        elif _same_result(cached, fresh):
            continue
        else:
            drifted += 1
            log.warning("drift for %s: cached from %s", client_id, cached.versions)
        # Same versions but a different result is repaired; older ones are simply replaced.
        rt.cache.put(fresh, replace_equal=True)
    log.info("reconciled %d clients: %d drifted, %d filled", checked, drifted, filled)
    return {"checked": checked, "drifted": drifted, "filled": filled}


def _same_result(a: matching_pb2.RecommendationSet, b: matching_pb2.RecommendationSet) -> bool:
    return (
        a.versions == b.versions
        and list(a.ranked) == list(b.ranked)
        and list(a.excluded) == list(b.excluded)
    )
