"""Re-match tasks skip the clients already computed from the event's graph (or a later
one), the catalog change's catalog version (or a later one) or the client change's
revision (or a later one): a burst of events costs one re-match per client, not one
per event. A real worker on the real Redis broker."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import redis

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.matching import rematch
from dpm.matching.cache import RecommendationCache
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth
from dpm.platform.events import CatalogChanged, ClientChanged, Queue
from dpm.platform.grpc_client import open_channel
from dpm.platform.names import ClientName, OrganizationName
from dpm.platform.outbox import celery_publisher
from tests.worker.conftest import start_worker

BROKER_DB = 11


def test_tasks_for_an_older_graph_skip_clients_already_past_it(
    tmp_path: Path,
    token_secret: str,
    redis_url: str,
    redis_namespace: str,
    servers: dict[str, object],
) -> None:
    addresses = {
        name: f"127.0.0.1:{servers[f'{name}_port']}"
        for name in ("catalog", "requirements", "neutrality")
    }
    with open_channel(addresses["catalog"], auth.admin_token(token_secret), 10) as channel:
        catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
        catalog.CreateOrganization(
            catalog_pb2.CreateOrganizationRequest(
                organization_id="meta",
                organization=catalog_pb2.Organization(display_name="M", kind=2),
            )
        )
        for day in ("2025-01-01", "2025-02-01"):  # two events: graph version 2
            event = ownership_pb2.OwnershipEvent(event_id=day, effective_date=day)
            change = event.stake_changed if day > "2025-01-01" else event.stake_acquired
            change.holder = "organizations/meta"
            change.held = "organizations/labelbox"
            change.equity_fraction = 0.1 if day == "2025-01-01" else 0.2
            version = catalog.RecordOwnershipEvent(
                catalog_pb2.RecordOwnershipEventRequest(event=event)
            ).graph_version
    assert version == 2
    cache = RecommendationCache(redis.Redis.from_url(redis_url), redis_namespace)
    broker_url = redis_url.rpartition("/")[0] + f"/{BROKER_DB}"
    broker = redis.Redis.from_url(broker_url)
    broker.flushdb()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DPM_")},
        "DPM_TOKEN_SECRET": token_secret,
        "DPM_REDIS_URL": redis_url,
        "DPM_BROKER_URL": broker_url,
        "DPM_CACHE_PREFIX": redis_namespace,
        **{f"DPM_{n.upper()}_ADDR": a for n, a in addresses.items()},
    }
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    publish = celery_publisher(broker_url)

    def rematch_for(version: int, expect: str, version_of: str = "graph") -> None:
        publish(
            rematch.REMATCH_CLIENTS,
            Queue.REMATCH,
            {
                "clients": ["google"],
                "reason": f"{version_of} v{version}",
                f"{version_of}_version": version,
            },
        )
        deadline = time.monotonic() + 60
        while expect not in log.read_text():
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)

    try:
        rematch_for(version, f"re-matched 1 clients after graph v{version} (0 already fresh)")
        stored = cache.get("google")
        assert stored is not None and stored.versions.graph_version == version
        # Queued for this graph again (a duplicate, or an older event of a burst): skipped.
        rematch_for(version, f"after graph v{version}: all 1 clients already fresh")
        rematch_for(version - 1, f"after graph v{version - 1}: all 1 clients already fresh")
        # For a graph the set has not seen: recomputed.
        rematch_for(version + 1, f"re-matched 1 clients after graph v{version + 1}")
        # The same for catalog changes, by catalog version.
        stored = cache.get("google")
        assert stored is not None
        catalog_version = stored.versions.catalog_version
        fresh = f"after catalog v{catalog_version}: all 1 clients already fresh"
        rematch_for(catalog_version, fresh, "catalog")
        nxt = catalog_version + 1
        rematch_for(nxt, f"re-matched 1 clients after catalog v{nxt}", "catalog")
        # A client change the stored set already reflects (its revision or older): skipped.
        stored = cache.get("google")
        assert stored is not None
        revision = stored.versions.requirements_revision
        publish(
            ClientChanged.TASK,
            Queue.REMATCH,
            ClientChanged(ClientName("google"), revision=revision).to_payload(),
        )
        deadline = time.monotonic() + 60
        while f"clients/google already fresh at revision {revision}" not in log.read_text():
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)

        # A catalog change covered by a later one's fan-out is not fanned out again.
        def catalog_changed(version: int, expect: str) -> None:
            publish(
                CatalogChanged.TASK,
                Queue.REMATCH,
                CatalogChanged(version, OrganizationName("labelbox")).to_payload(),
            )
            deadline = time.monotonic() + 60
            while expect not in log.read_text():
                assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[
                    -3000:
                ]
                time.sleep(0.1)

        catalog_changed(10_001, "catalog v10001 (organizations/labelbox) re-matches 1 clients")
        catalog_changed(10_000, "covered by the re-match for catalog v10001")
        # The same version again (a redelivery: its fan-out may not have finished) goes on.
        text = log.read_text()
        catalog_changed(10_001, "")
        deadline = time.monotonic() + 60
        while log.read_text().count("catalog v10001 (organizations/labelbox) re-matches") < 2:
            assert time.monotonic() < deadline, log.read_text()[len(text) :]
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        broker.flushdb()
        redis.Redis.from_url(redis_url).delete(
            cache.key("google"), f"{redis_namespace}catalog:fanned-out"
        )
