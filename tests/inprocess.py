"""The four gRPC servers in this process, on port 0, with a real Redis (no broker, no worker)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dpm.catalog.server import create_server as create_catalog
from dpm.catalog.settings import CatalogSettings
from dpm.matching.server import create_server as create_matching
from dpm.matching.settings import MatchingSettings
from dpm.neutrality.server import create_server as create_neutrality
from dpm.neutrality.settings import NeutralitySettings
from dpm.platform.grpc_server import RunningServer
from dpm.platform.outbox import Publisher
from dpm.requirements.server import create_server as create_requirements
from dpm.requirements.settings import RequirementsSettings


def wait_serving(address: str, service: str = "", timeout: float = 15.0) -> None:
    """Wait until the server's health says SERVING (its dependencies answer)."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                status = stub.Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=1
                ).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.05)
    raise AssertionError(f"{service or 'server'} at {address} never became SERVING")


def no_broker(*_: object) -> None:
    """Outbox publisher for stacks without a worker: changes are published nowhere."""


@dataclass
class InProcessStack:
    addresses: dict[str, str]
    servers: list[RunningServer]


@contextmanager
def inprocess_stack(
    data_dir: Path,
    token_secret: str,
    redis_url: str,
    cache_prefix: str,
    catalog_publisher: Publisher = no_broker,
    **matching: float,
) -> Iterator[InProcessStack]:
    common = {"token_secret": token_secret, "data_dir": data_dir, "host": "127.0.0.1", "port": 0}
    catalog = create_catalog(CatalogSettings(**common), publisher=catalog_publisher)
    requirements = create_requirements(RequirementsSettings(**common), publisher=no_broker)
    addresses = {
        "catalog_addr": f"127.0.0.1:{catalog.port}",
        "requirements_addr": f"127.0.0.1:{requirements.port}",
    }
    neutrality = create_neutrality(NeutralitySettings(**common, **addresses))
    addresses["neutrality_addr"] = f"127.0.0.1:{neutrality.port}"
    matching_server = create_matching(
        MatchingSettings(
            **common, **addresses, redis_url=redis_url, cache_prefix=cache_prefix, **matching
        )
    )
    addresses["matching_addr"] = f"127.0.0.1:{matching_server.port}"
    servers = [matching_server, neutrality, requirements, catalog]
    try:
        yield InProcessStack({k.removesuffix("_addr"): v for k, v in addresses.items()}, servers)
    finally:
        for server in servers:
            server.stop(0)
