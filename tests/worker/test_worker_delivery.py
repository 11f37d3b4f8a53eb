"""A real Celery worker on a real broker: a worker killed mid-task loses nothing.

The requirements server is first replaced by a socket that accepts and never
answers, so the worker is caught inside its task; it is then killed with
SIGKILL, the real server comes back on the same port, and a new worker must
finish the task (acks_late: the broker redelivers what was never acknowledged).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from dpm.catalog.server import create_server as create_catalog
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.common.v1 import common_pb2
from dpm.matching.cache import RecommendationCache
from dpm.neutrality.server import create_server as create_neutrality
from dpm.neutrality.settings import NeutralitySettings
from dpm.platform import auth
from dpm.platform.embedded_redis import free_port
from dpm.platform.grpc_client import open_channel
from dpm.platform.grpc_server import RunningServer
from dpm.platform.outbox import celery_publisher
from dpm.requirements.server import create_server as create_requirements
from dpm.requirements.settings import RequirementsSettings
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc
from dpm.worker.queues import Queue, Task
from kombu import Connection

from tests.conftest import IN_CI, RABBITMQ_URL


def _discard(*_: object) -> None:
    """Outbox publisher for the in-process servers: this test publishes its own task."""


class Blackhole:
    """Accepts TCP connections on a port and never answers."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.accepted = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.sock.close()


@pytest.fixture
def rabbitmq() -> str:
    try:
        with Connection(RABBITMQ_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
            conn.default_channel.queue_purge(Queue.REMATCH.value)
    except Exception as exc:
        if IN_CI:
            raise
        pytest.skip(f"no RabbitMQ at {RABBITMQ_URL}: {exc}")
    return RABBITMQ_URL


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dpm.cli.main", "worker", "--concurrency", "1"],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,  # its own process group: kill parent and child at once
        )


@pytest.fixture
def servers(tmp_path: Path, token_secret: str) -> Iterator[dict[str, object]]:
    common = {"token_secret": token_secret, "data_dir": tmp_path, "host": "127.0.0.1"}
    catalog = create_catalog(CatalogSettings(**common, port=0), publisher=_discard)
    req_port = free_port()
    req_settings = RequirementsSettings(**common, port=req_port)
    requirements = create_requirements(req_settings, publisher=_discard)
    neutrality = create_neutrality(
        NeutralitySettings(
            **common,
            port=0,
            catalog_addr=f"127.0.0.1:{catalog.port}",
            requirements_addr=f"127.0.0.1:{req_port}",
        )
    )
    running: list[RunningServer] = [catalog, requirements, neutrality]
    admin = auth.admin_token(token_secret)
    with open_channel(f"127.0.0.1:{catalog.port}", admin, 5) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        stub.CreateOrganization(
            catalog_pb2.CreateOrganizationRequest(
                organization_id="labelbox",
                organization=catalog_pb2.Organization(
                    display_name="Labelbox", kind=catalog_pb2.ORGANIZATION_KIND_VENDOR
                ),
            )
        )
        stub.UpdateVendorProfile(
            catalog_pb2.UpdateVendorProfileRequest(
                allow_missing=True,
                vendor_profile=catalog_pb2.VendorProfile(
                    name="organizations/labelbox/vendorProfile",
                    service_model=catalog_pb2.SERVICE_MODEL_HYBRID,
                    capabilities=[
                        catalog_pb2.Capability(
                            modality=common_pb2.MODALITY_TEXT,
                            monthly_capacity=10000,
                            quality=0.9,
                            unit_price_usd=1.0,
                        )
                    ],
                ),
            )
        )
    with open_channel(f"127.0.0.1:{req_port}", admin, 5) as channel:
        requirements_pb2_grpc.RequirementsServiceStub(channel).CreateClient(
            requirements_pb2.CreateClientRequest(
                client_id="google",
                client=requirements_pb2.Client(
                    display_name="Google",
                    requirements=requirements_pb2.Requirements(
                        needs=[
                            requirements_pb2.Need(
                                modality=common_pb2.MODALITY_TEXT, monthly_volume=1000
                            )
                        ]
                    ),
                ),
            )
        )
    state: dict[str, object] = {
        "catalog_port": catalog.port,
        "neutrality_port": neutrality.port,
        "requirements_port": req_port,
        "requirements": requirements,
        "req_settings": req_settings,
        "running": running,
    }
    yield state
    for server in state["running"]:  # type: ignore[attr-defined]
        server.stop(0)


def test_worker_killed_mid_task_loses_nothing(
    tmp_path: Path,
    token_secret: str,
    redis_url: str,
    redis_namespace: str,
    rabbitmq: str,
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
        "DPM_BROKER_URL": rabbitmq,
        "DPM_CACHE_PREFIX": redis_namespace,
        "DPM_CATALOG_ADDR": f"127.0.0.1:{servers['catalog_port']}",
        "DPM_REQUIREMENTS_ADDR": f"127.0.0.1:{req_port}",
        "DPM_NEUTRALITY_ADDR": f"127.0.0.1:{servers['neutrality_port']}",
        "DPM_RPC_TIMEOUT_SECONDS": "60",
    }
    cache = RecommendationCache(redis.Redis.from_url(redis_url), redis_namespace)
    first = _start_worker(env, tmp_path / "worker-1.log")
    try:
        celery_publisher(rabbitmq)(
            Task.CLIENT_CHANGED.value,
            Queue.REMATCH.value,
            {"client": "clients/google", "revision": 1},
        )
        assert blackhole.accepted.wait(60), (tmp_path / "worker-1.log").read_text()[-3000:]
        time.sleep(0.5)  # the task is now blocked on the silent "requirements" socket
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        assert cache.get("google") is None
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        blackhole.close()

    restarted = create_requirements(servers["req_settings"], publisher=_discard)  # type: ignore[arg-type]
    servers["running"].append(restarted)  # type: ignore[attr-defined]
    second = _start_worker(env, tmp_path / "worker-2.log")
    try:
        deadline = time.monotonic() + 60
        while (rec := cache.get("google")) is None:
            assert second.poll() is None, (tmp_path / "worker-2.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "worker-2.log").read_text()[-3000:]
            time.sleep(0.1)
        assert [r.vendor for r in rec.ranked] == ["organizations/labelbox"]
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
        redis.Redis.from_url(redis_url).delete(cache.key("google"))
