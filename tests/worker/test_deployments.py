"""Two stacks (deployments) sharing one Redis and one broker never see each
other's keys or tasks: a real worker per deployment, on both brokers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kombu import Connection

from dpm.matching.cache import RecommendationCache
from dpm.matching.settings import RematchSettings
from dpm.platform.events import ClientChanged, Queue
from dpm.platform.names import ClientName
from dpm.platform.outbox import celery_publisher
from dpm.worker.settings import WorkerSettings
from tests.conftest import IN_CI, RABBITMQ_URL
from tests.worker.conftest import start_worker

REDIS_BROKER_DB = 13


def test_prefixes_and_queues_derive_from_the_deployment(
    token_secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DPM_DEPLOYMENT", "DPM_REVOCATION_PREFIX", "DPM_CACHE_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    settings = RematchSettings(token_secret=token_secret, deployment="staging")
    assert settings.cache_prefix == "staging:"
    assert settings.revocation_prefix == "staging:"
    assert Queue.REMATCH.in_deployment(settings.deployment) == "staging.rematch"
    explicit = RematchSettings(token_secret=token_secret, deployment="x", cache_prefix="c:")
    assert explicit.cache_prefix == "c:" and explicit.revocation_prefix == "x:"
    default = WorkerSettings(token_secret=token_secret)
    assert (default.deployment, default.revocation_prefix) == ("dpm", "dpm:")
    # Outbox rows written before deployments existed name the full queue.
    assert Queue.of("dpm.rematch") is Queue.of("rematch") is Queue.REMATCH
    with pytest.raises(ValueError):
        RematchSettings(token_secret=token_secret, deployment="a:b")


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, redis_url: str) -> Iterator[str]:
    if request.param == "redis":
        url = redis_url.rpartition("/")[0] + f"/{REDIS_BROKER_DB}"
        yield url
        return
    try:
        with Connection(RABBITMQ_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        if IN_CI:
            raise
        pytest.skip(f"no RabbitMQ at {RABBITMQ_URL}: {exc}")
    yield RABBITMQ_URL


def _delete_queues(broker: str, deployments: list[str]) -> None:
    names = [Queue.REMATCH.in_deployment(d) for d in deployments]
    if broker.startswith("redis"):
        redis.Redis.from_url(broker).delete(*names)
        return
    with Connection(broker, connect_timeout=2) as conn:
        for name in names:
            conn.default_channel.queue_delete(name)


def test_two_deployments_on_one_redis_and_broker_stay_apart(
    tmp_path: Path,
    token_secret: str,
    redis_url: str,
    broker: str,
    servers: dict[str, object],
) -> None:
    deployments = [f"dpmtest-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    base = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DPM_")},
        "DPM_TOKEN_SECRET": token_secret,
        "DPM_REDIS_URL": redis_url,
        "DPM_BROKER_URL": broker,
        "DPM_CATALOG_ADDR": f"127.0.0.1:{servers['catalog_port']}",
        "DPM_REQUIREMENTS_ADDR": f"127.0.0.1:{servers['requirements_port']}",
        "DPM_NEUTRALITY_ADDR": f"127.0.0.1:{servers['neutrality_port']}",
    }
    client = redis.Redis.from_url(redis_url)
    caches = [RecommendationCache(client, f"{d}:") for d in deployments]
    logs = [tmp_path / f"worker-{d}.log" for d in deployments]
    workers = [
        start_worker({**base, "DPM_DEPLOYMENT": d}, log)
        for d, log in zip(deployments, logs, strict=True)
    ]
    event = ClientChanged(ClientName("google"), revision=1).to_payload()
    try:
        for i, deployment in enumerate(deployments):
            # The relay of deployment i publishes; only deployment i's worker runs it.
            celery_publisher(broker, deployment)(ClientChanged.TASK, Queue.REMATCH, event)
            deadline = time.monotonic() + 60
            while caches[i].get("google") is None:
                assert workers[i].poll() is None, logs[i].read_text()[-3000:]
                assert time.monotonic() < deadline, logs[i].read_text()[-3000:]
                time.sleep(0.1)
            for later in caches[i + 1 :]:
                assert later.get("google") is None
        time.sleep(1.0)  # a stray delivery would show in the logs by now
        for log in logs:
            received = re.findall(
                rf"Task {ClientChanged.TASK}\[[-0-9a-f]+\] received", log.read_text()
            )
            assert len(received) == 1, log.read_text()[-3000:]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        for cache in caches:
            client.delete(cache.key("google"))
        _delete_queues(broker, deployments)
