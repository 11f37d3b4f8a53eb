"""Readiness of a server's upstreams: a busy upstream that answers late is tolerated for
a few probes; one that refuses, says NOT_SERVING or never answered counts at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dpm.platform.service import LATE_PROBES_TOLERATED, _upstream_check

SERVICE = "dpm.catalog.v1.CatalogService"


class Upstream(health_pb2_grpc.HealthServicer):
    def __init__(self) -> None:
        self.delay = 0.0
        self.status = health_pb2.HealthCheckResponse.SERVING

    def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext
    ) -> health_pb2.HealthCheckResponse:
        time.sleep(self.delay)
        return health_pb2.HealthCheckResponse(status=self.status)


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, grpc.Channel]]:
    servicer = Upstream()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield servicer, channel
    finally:
        channel.close()
        server.stop(0)


def test_a_late_upstream_is_tolerated_for_a_few_probes_then_not_ready(
    upstream: tuple[Upstream, grpc.Channel],
) -> None:
    servicer, channel = upstream
    check = _upstream_check("catalog", channel, SERVICE, timeout=0.2)
    assert check() is None
    servicer.delay = 0.4
    assert [check() for _ in range(LATE_PROBES_TOLERATED)] == [None] * LATE_PROBES_TOLERATED
    assert check() == "catalog: DEADLINE_EXCEEDED"
    servicer.delay = 0.0
    assert check() is None  # answering again: ready, and the count starts over
    servicer.delay = 0.4
    assert check() is None


def test_not_serving_and_an_upstream_never_heard_count_at_once(
    upstream: tuple[Upstream, grpc.Channel],
) -> None:
    servicer, channel = upstream
    servicer.delay = 0.4
    assert _upstream_check("catalog", channel, SERVICE, timeout=0.2)() == (
        "catalog: DEADLINE_EXCEEDED"
    )
    servicer.delay = 0.0
    check = _upstream_check("catalog", channel, SERVICE, timeout=0.2)
    assert check() is None
    servicer.status = health_pb2.HealthCheckResponse.NOT_SERVING
    assert check() == "catalog: not serving"
    with grpc.insecure_channel("127.0.0.1:1") as nowhere:
        assert _upstream_check("catalog", nowhere, SERVICE, timeout=0.2)() is not None
