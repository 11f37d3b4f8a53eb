"""Fixtures for worker tests: the upstream servers in-process, the worker a real process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dpm.catalog.server import create_server as create_catalog
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.common.v1 import common_pb2
from dpm.neutrality.server import create_server as create_neutrality
from dpm.neutrality.settings import NeutralitySettings
from dpm.platform import auth
from dpm.platform.embedded_redis import free_port
from dpm.platform.grpc_client import open_channel
from dpm.platform.grpc_server import RunningServer
from dpm.requirements.server import create_server as create_requirements
from dpm.requirements.settings import RequirementsSettings
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc


def discard(*_: object) -> None:
    """Outbox publisher for the in-process servers: the tests publish their own tasks."""


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
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
    catalog = create_catalog(CatalogSettings(**common, port=0), publisher=discard)
    req_port = free_port()
    req_settings = RequirementsSettings(**common, port=req_port)
    requirements = create_requirements(req_settings, publisher=discard)
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
