"""The periodic reconciliation, run by a real worker on the real Redis broker:
it recomputes every client, repairs a cached set that drifted or that is ahead
of its inputs (a restored database), stores newer versions of an equal set
without notifying watchers, and reports each."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from google.protobuf import field_mask_pb2
from sqlalchemy import create_engine, text

from dpm.catalog.v1 import catalog_pb2
from dpm.common.v1 import common_pb2
from dpm.matching import compute, rematch
from dpm.matching.cache import PutResult, RecommendationCache
from dpm.matching.compute import RecommendationBuilder
from dpm.matching.model import Requirements
from dpm.matching.upstreams import Upstreams
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth
from dpm.platform.events import Queue
from dpm.platform.grpc_client import open_channel
from dpm.platform.outbox import celery_publisher
from dpm.requirements.v1 import requirements_pb2
from tests.worker.conftest import start_worker

BROKER_DB = 12


def admin_upstreams(servers: dict[str, object], token_secret: str) -> Upstreams:
    """Admin stubs of the catalog, requirements and neutrality servers of ``servers``."""
    admin = auth.admin_token(token_secret)
    channels = {
        name: open_channel(f"127.0.0.1:{servers[f'{name}_port']}", admin, 10)
        for name in ("catalog", "requirements", "neutrality")
    }
    return Upstreams.from_channels(channels, own=True)


def test_reconcile_repairs_drift(
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
    upstreams = admin_upstreams(servers, token_secret)
    cache = RecommendationCache(redis.Redis.from_url(redis_url), redis_namespace)
    correct = RecommendationBuilder(upstreams).build("google")
    assert correct is not None and len(correct.ranked) == 1
    # A set that drifted: same versions, but a vendor missing.
    drifted = type(correct)()
    drifted.CopyFrom(correct)
    del drifted.ranked[:]
    assert cache.put(drifted) is PutResult.WRITTEN
    assert cache.put(correct) is PutResult.STALE  # an ordinary write cannot repair it

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
    notices = cache.subscribe("google")

    def reconcile_reports(counts: str) -> None:
        publish(rematch.RECONCILE, Queue.REMATCH, {})
        deadline = time.monotonic() + 60
        while f"reconciled 1 clients: {counts}" not in log.read_text():
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        stored = cache.get("google")
        assert stored is not None
        assert list(stored.ranked) == list(correct.ranked)
        assert stored.versions == correct.versions

    def notified() -> bool:
        """A change notice came (the subscription's confirmation does not count)."""
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if notices.get_message(ignore_subscribe_messages=True, timeout=0.2) is not None:
                return True
        return False

    try:
        reconcile_reports("1 drifted, 0 refreshed, 0 ahead, 0 filled")
        assert notified()

        # Ahead: the database was restored to an older state than the cache saw.
        ahead = type(correct)()
        ahead.CopyFrom(correct)
        ahead.versions.graph_version += 7
        ahead.versions.catalog_version += 3
        del ahead.ranked[:]
        assert cache.put(ahead) is PutResult.WRITTEN
        assert notified()
        reconcile_reports("0 drifted, 0 refreshed, 1 ahead, 0 filled")
        assert notified()

        # Only the versions lag, the content is equal: stored quietly.
        behind = type(correct)()
        behind.CopyFrom(correct)
        behind.versions.requirements_revision -= 1
        cache.delete("google")
        assert notified()
        assert cache.put(behind) is PutResult.WRITTEN
        assert notified()
        reconcile_reports("0 drifted, 1 refreshed, 0 ahead, 0 filled")
        assert not notified()

        # Equal: nothing to do, nothing published.
        reconcile_reports("0 drifted, 0 refreshed, 0 ahead, 0 filled")
        assert not notified()
    finally:
        notices.close()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        broker.flushdb()
        redis.Redis.from_url(redis_url).delete(cache.key("google"))
        upstreams.close()


def test_one_clients_failure_does_not_hold_back_its_chunk(
    token_secret: str, servers: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    upstreams = admin_upstreams(servers, token_secret)
    need = requirements_pb2.Need(modality=common_pb2.MODALITY_TEXT, monthly_volume=2000)
    upstreams.requirements.CreateClient(
        requirements_pb2.CreateClientRequest(
            client_id="openai",
            client=requirements_pb2.Client(
                display_name="OpenAI", requirements=requirements_pb2.Requirements(needs=[need])
            ),
        )
    )
    real = compute.rank_top

    def failing_for_openai(table: Any, requirements: Requirements, *rest: Any) -> Any:
        if requirements.needs[0].monthly_volume == 2000:
            raise RuntimeError("a case the ranking cannot handle")
        return real(table, requirements, *rest)

    monkeypatch.setattr(compute, "rank_top", failing_for_openai)
    try:
        built = RecommendationBuilder(upstreams).build_many(["google", "openai", "nobody"])
    finally:
        upstreams.close()
    assert set(built.encoded) == {"google"}
    assert isinstance(built.failed["openai"], RuntimeError)
    assert built.gone == ["nobody"]


def test_chunks_after_the_first_get_the_neutrality_answer_as_a_header_while_the_graph_stands(
    token_secret: str, servers: dict[str, object]
) -> None:
    upstreams = admin_upstreams(servers, token_secret)
    try:
        builder = RecommendationBuilder(upstreams)
        first = builder.build_many(["google"]).encoded["google"].decode()
        again = builder.build_many(["google"]).encoded["google"].decode()
        assert builder.answers_not_modified == 1
        assert (again.ranked, again.excluded) == (first.ranked, first.excluded)

        upstreams.catalog.CreateOrganization(
            catalog_pb2.CreateOrganizationRequest(
                organization_id="fund",
                organization=catalog_pb2.Organization(
                    display_name="A fund", kind=catalog_pb2.ORGANIZATION_KIND_INVESTOR
                ),
            )
        )
        event = ownership_pb2.OwnershipEvent(event_id="reconcile-etag", effective_date="2025-01-01")
        event.stake_acquired.holder = "organizations/fund"
        event.stake_acquired.held = "organizations/labelbox"
        event.stake_acquired.equity_fraction = 0.5
        upstreams.catalog.RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=event))
        moved = builder.build_many(["google"]).encoded["google"].decode()
        assert builder.answers_not_modified == 1  # a new graph: answered in full
        assert moved.versions.graph_version > first.versions.graph_version
    finally:
        upstreams.close()


def test_the_catalog_is_read_again_only_when_its_version_moved_or_when_asked(
    tmp_path: Path, token_secret: str, servers: dict[str, object]
) -> None:
    """A worker keeps its vendor table while the catalog's version stays; a catalog
    restored from a backup can come back to that version with other content, which
    only a full read (the reconciliation's, ``reread``) sees."""
    upstreams = admin_upstreams(servers, token_secret)
    try:
        builder = RecommendationBuilder(upstreams)
        first = builder.snapshot()
        assert builder.snapshot() is first  # the same version: nothing re-read
        assert [c.display_name for c in first.table.candidates] == ["Labelbox"]

        # What a restore can do: other content, the version unchanged.
        engine = create_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE organizations SET display_name = 'Labelbox (restored)'")
            )
        engine.dispose()
        assert builder.snapshot() is first
        reread = builder.snapshot(reread=True)
        assert reread.catalog_version == first.catalog_version
        assert [c.display_name for c in reread.table.candidates] == ["Labelbox (restored)"]

        # A real change moves the version: read again without being asked.
        upstreams.catalog.UpdateOrganization(
            catalog_pb2.UpdateOrganizationRequest(
                organization=catalog_pb2.Organization(
                    name="organizations/labelbox", display_name="Labelbox Inc."
                ),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
            )
        )
        moved = builder.snapshot()
        assert moved.catalog_version > first.catalog_version
        assert [c.display_name for c in moved.table.candidates] == ["Labelbox Inc."]
    finally:
        upstreams.close()
