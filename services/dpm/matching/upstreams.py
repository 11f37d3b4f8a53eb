"""The services matching reads its inputs from: catalog, requirements, neutrality."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import grpc

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.platform import auth
from dpm.platform.config import CommonSettings
from dpm.platform.grpc_client import open_channel
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc

# Short name -> full gRPC service name (ServiceSpec.upstreams).
SERVICES = {
    "catalog": catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name,
    "requirements": requirements_pb2.DESCRIPTOR.services_by_name["RequirementsService"].full_name,
    "neutrality": neutrality_pb2.DESCRIPTOR.services_by_name["NeutralityService"].full_name,
}


@dataclass
class Upstreams:
    catalog: catalog_pb2_grpc.CatalogServiceStub
    requirements: requirements_pb2_grpc.RequirementsServiceStub
    neutrality: neutrality_pb2_grpc.NeutralityServiceStub
    # Channels this object opened itself (closed by close()); none when given channels.
    owned: list[grpc.Channel] = field(default_factory=list)

    @classmethod
    def from_channels(cls, channels: Mapping[str, grpc.Channel], own: bool = False) -> Upstreams:
        """Stubs over ``channels``; with ``own``, ``close()`` closes them."""
        return cls(
            catalog_pb2_grpc.CatalogServiceStub(channels["catalog"]),
            requirements_pb2_grpc.RequirementsServiceStub(channels["requirements"]),
            neutrality_pb2_grpc.NeutralityServiceStub(channels["neutrality"]),
            list(channels.values()) if own else [],
        )

    @classmethod
    def open(cls, settings: CommonSettings, caller: str) -> Upstreams:
        """Channels of its own, with ``caller``'s service token (the workers' way in)."""
        token = auth.ServiceTokens(settings.token_keys(), caller)
        channels = {
            name: open_channel(
                getattr(settings, f"{name}_addr"), token, settings.rpc_timeout_seconds, tls=settings
            )
            for name in SERVICES
        }
        return cls.from_channels(channels, own=True)

    def close(self) -> None:
        for channel in self.owned:
            channel.close()
