"""Neutrality server bootstrap: channels to catalog and requirements, servicer, serve.

DPM_TOKEN_SECRET=... python -m dpm.neutrality.server
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dpm.catalog.v1 import catalog_pb2_grpc
from dpm.neutrality.servicer import NeutralityServicer
from dpm.neutrality.settings import NeutralitySettings
from dpm.neutrality.v1 import neutrality_pb2_grpc
from dpm.platform.auth import service_token
from dpm.platform.config import load
from dpm.platform.grpc_client import open_channel
from dpm.platform.grpc_server import RunningServer, build_server, serve
from dpm.requirements.v1 import requirements_pb2_grpc

SERVICE_NAME = "dpm.neutrality.v1.NeutralityService"
UPSTREAMS = {
    "catalog": "dpm.catalog.v1.CatalogService",
    "requirements": "dpm.requirements.v1.RequirementsService",
}


def _serving(channel: grpc.Channel, service: str) -> bool:
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=1.0
        )
    except grpc.RpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def create_server(settings: NeutralitySettings) -> RunningServer:
    token = service_token(settings.token_secret, "neutrality")
    channels = {
        "catalog": open_channel(settings.catalog_addr, token, settings.rpc_timeout_seconds),
        "requirements": open_channel(
            settings.requirements_addr, token, settings.rpc_timeout_seconds
        ),
    }
    servicer = NeutralityServicer(
        catalog_pb2_grpc.CatalogServiceStub(channels["catalog"]),
        requirements_pb2_grpc.RequirementsServiceStub(channels["requirements"]),
        settings.rpc_timeout_seconds,
        settings.graph_cache_size,
    )

    def readiness() -> str | None:
        missing = [
            name for name, service in UPSTREAMS.items() if not _serving(channels[name], service)
        ]
        return f"not serving yet: {', '.join(missing)}" if missing else None

    def register(server: grpc.Server) -> None:
        neutrality_pb2_grpc.add_NeutralityServiceServicer_to_server(servicer, server)

    def close() -> None:
        for channel in channels.values():
            channel.close()

    try:
        running = build_server(settings, [register], [SERVICE_NAME], readiness=readiness)
    except BaseException:
        close()
        raise
    running.closers.append(close)
    return running


def main() -> None:
    serve("neutrality", load(NeutralitySettings), create_server)


if __name__ == "__main__":
    main()
