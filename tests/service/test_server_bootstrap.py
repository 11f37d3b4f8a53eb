"""What every server does, seen from outside: readiness, reflection, public health."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from dpm.matching.server import create_server as create_matching
from dpm.matching.settings import MatchingSettings
from dpm.platform.embedded_redis import free_port
from dpm.platform.grpc_server import LIVENESS
from tests.inprocess import inprocess_stack


def _status(address: str, service: str = "") -> int:
    with grpc.insecure_channel(address) as channel:
        return int(
            health_pb2_grpc.HealthStub(channel)
            .Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
            .status
        )


def test_not_serving_while_dependencies_are_down(
    tmp_path: Path, token_secret: str, redis_url: str
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    server = create_matching(
        MatchingSettings(
            token_secret=token_secret,
            data_dir=tmp_path,
            host="127.0.0.1",
            port=0,
            redis_url=redis_url,
            catalog_addr=nowhere,
            requirements_addr=nowhere,
            neutrality_addr=nowhere,
        )
    )
    try:
        address = f"127.0.0.1:{server.port}"
        time.sleep(1.5)  # more than one readiness round
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        assert _status(address) == not_serving
        assert _status(address, "dpm.matching.v1.MatchingService") == not_serving
        # ... while the liveness entry says the process itself is fine.
        assert _status(address, LIVENESS) == health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop(0)


def test_serving_reflection_and_health_need_no_token(
    tmp_path: Path, token_secret: str, redis_url: str, redis_namespace: str
) -> None:
    with inprocess_stack(tmp_path, token_secret, redis_url, redis_namespace) as stack:
        expected = {
            "catalog": "dpm.catalog.v1.CatalogService",
            "requirements": "dpm.requirements.v1.RequirementsService",
            "neutrality": "dpm.neutrality.v1.NeutralityService",
            "matching": "dpm.matching.v1.MatchingService",
        }
        deadline = time.monotonic() + 15
        for name, service in expected.items():
            address = stack.addresses[name]
            while _status(address, service) != health_pb2.HealthCheckResponse.SERVING:
                assert time.monotonic() < deadline, f"{name} never SERVING"
                time.sleep(0.05)
            with grpc.insecure_channel(address) as channel:
                database = ProtoReflectionDescriptorDatabase(channel)
                services = set(database.get_services())
                assert {service, "grpc.health.v1.Health"} <= services
                # A client can discover every method and message from the server alone.
                descriptor = database.FindFileContainingSymbol(service)
                assert descriptor.service
