"""A real Celery worker on a real broker: a worker killed mid-task loses nothing.

The requirements server is first replaced by a socket that accepts and never
answers, so the worker is caught inside its task; it is then killed with
SIGKILL, the real server comes back on the same port, and a new worker must
finish the task (acks_late: the broker redelivers what was never acknowledged):
RabbitMQ at once, Redis after the default visibility timeout (30 s), well
under a minute.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import amqp.exceptions
import pytest
import redis
from kombu import Connection

from dpm.matching.cache import RecommendationCache
from dpm.platform.config import DEFAULT_DEPLOYMENT
from dpm.platform.events import ClientChanged, Queue
from dpm.platform.grpc_server import RunningServer
from dpm.platform.names import ClientName
from dpm.platform.outbox import celery_publisher
from dpm.requirements.server import create_server as create_requirements
from tests.blackhole import Blackhole
from tests.conftest import IN_CI, RABBITMQ_URL
from tests.worker.conftest import discard, start_worker

REDIS_BROKER_DB = 14
# Seconds from the kill to the task done by another worker, at most, with the
# default settings (Redis: visibility timeout 30 s + restore scan every 2 s).
RECOVERY_SECONDS = {"rabbitmq": 15.0, "redis": 45.0}
QUEUE = Queue.REMATCH.in_deployment(DEFAULT_DEPLOYMENT)


@pytest.fixture(params=["rabbitmq", "redis"])
def broker(request: pytest.FixtureRequest, redis_url: str) -> Iterator[str]:
    """Both brokers: RabbitMQ requeues at once, Redis after the visibility timeout."""
    if request.param == "redis":
        url = redis_url.rpartition("/")[0] + f"/{REDIS_BROKER_DB}"
        redis.Redis.from_url(url).flushdb()
        yield url
        redis.Redis.from_url(url).flushdb()
        return
    try:
        with Connection(RABBITMQ_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
            with contextlib.suppress(amqp.exceptions.NotFound):  # never declared: nothing in it
                conn.default_channel.queue_purge(QUEUE)
    except Exception as exc:
        if IN_CI:
            raise
        pytest.skip(f"no RabbitMQ at {RABBITMQ_URL}: {exc}")
    yield RABBITMQ_URL


def test_worker_killed_mid_task_loses_nothing(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    token_secret: str,
    redis_url: str,
    redis_namespace: str,
    broker: str,
    servers: dict[str, object],
) -> None:
    req_port = int(servers["requirements_port"])  # type: ignore[call-overload]
    requirements: RunningServer = servers["requirements"]  # type: ignore[assignment]
    requirements.stop(0)
    servers["running"].remove(requirements)  # type: ignore[attr-defined]
    blackhole = Blackhole(req_port)

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DPM_")},
        "DPM_TOKEN_SECRET": token_secret,
        "DPM_REDIS_URL": redis_url,
        "DPM_BROKER_URL": broker,
        "DPM_CACHE_PREFIX": redis_namespace,
        "DPM_CATALOG_ADDR": f"127.0.0.1:{servers['catalog_port']}",
        "DPM_REQUIREMENTS_ADDR": f"127.0.0.1:{req_port}",
        "DPM_NEUTRALITY_ADDR": f"127.0.0.1:{servers['neutrality_port']}",
        "DPM_RPC_TIMEOUT_SECONDS": "60",
    }
    cache = RecommendationCache(redis.Redis.from_url(redis_url), redis_namespace)
    first = start_worker(env, tmp_path / "worker-1.log")
    try:
        celery_publisher(broker)(
            ClientChanged.TASK,
            Queue.REMATCH,
            ClientChanged(ClientName("google"), revision=1).to_payload(),
        )
        assert blackhole.accepted.wait(60), (tmp_path / "worker-1.log").read_text()[-3000:]
        time.sleep(0.5)  # the task is now blocked on the silent "requirements" socket
        os.killpg(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        first.wait(timeout=10)
        assert cache.get("google") is None
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        blackhole.close()

    restarted = create_requirements(servers["req_settings"], publisher=discard)  # type: ignore[arg-type]
    servers["running"].append(restarted)  # type: ignore[attr-defined]
    second = start_worker(env, tmp_path / "worker-2.log")
    try:
        deadline = killed_at + RECOVERY_SECONDS[request.node.callspec.params["broker"]]
        while (rec := cache.get("google")) is None:
            assert second.poll() is None, (tmp_path / "worker-2.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "worker-2.log").read_text()[-3000:]
            time.sleep(0.1)
        print(f"task redelivered and done {time.monotonic() - killed_at:.1f} s after the kill")
        assert [r.vendor for r in rec.ranked] == ["organizations/labelbox"]
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
        redis.Redis.from_url(redis_url).delete(cache.key("google"))
