"""Neutrality server bootstrap: channels to catalog and requirements, the servicer.

DPM_TOKEN_SECRET=... python -m dpm.neutrality.server
"""

from __future__ import annotations

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.neutrality.servicer import NeutralityServicer
from dpm.neutrality.settings import NeutralitySettings
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.platform.grpc_server import RunningServer
from dpm.platform.service import Parts, ServiceSpec, serve, start
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc

SPEC = ServiceSpec(
    name="neutrality",
    service=neutrality_pb2.DESCRIPTOR.services_by_name["NeutralityService"],
    add_servicer=neutrality_pb2_grpc.add_NeutralityServiceServicer_to_server,
    settings=NeutralitySettings,
    upstreams={
        "catalog": catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name,
        "requirements": requirements_pb2.DESCRIPTOR.services_by_name[
            "RequirementsService"
        ].full_name,
    },
)


def create_server(settings: NeutralitySettings) -> RunningServer:
    def servicer(parts: Parts) -> NeutralityServicer:
        built = NeutralityServicer(
            catalog_pb2_grpc.CatalogServiceStub(parts.channels["catalog"]),
            requirements_pb2_grpc.RequirementsServiceStub(parts.channels["requirements"]),
            settings.rpc_timeout_seconds,
            settings.graph_cache_size,
            settings.score_memo_size,
            settings.graph_read_timeout_seconds,
        )
        parts.on_close(built.close)
        return built

    return start(SPEC, settings, servicer)


def main() -> None:
    serve(SPEC, create_server)


if __name__ == "__main__":
    main()
