"""Matching server bootstrap: the Redis cache, channels to its upstreams, the servicer.

DPM_TOKEN_SECRET=... python -m dpm.matching.server
"""

from __future__ import annotations

from dpm.matching.cache import RecommendationCache
from dpm.matching.compute import RecommendationBuilder
from dpm.matching.servicer import MatchingServicer
from dpm.matching.settings import MatchingSettings
from dpm.matching.upstreams import SERVICES, Upstreams
from dpm.matching.v1 import matching_pb2, matching_pb2_grpc
from dpm.platform.grpc_server import RunningServer
from dpm.platform.service import Parts, ServiceSpec, serve, start

SPEC = ServiceSpec(
    name="matching",
    service=matching_pb2.DESCRIPTOR.services_by_name["MatchingService"],
    add_servicer=matching_pb2_grpc.add_MatchingServiceServicer_to_server,
    settings=MatchingSettings,
    upstreams=SERVICES,
)


def create_server(settings: MatchingSettings) -> RunningServer:
    def servicer(parts: Parts) -> MatchingServicer:
        cache = RecommendationCache(parts.redis(settings.redis_url), settings.cache_prefix)
        builder = RecommendationBuilder(Upstreams.from_channels(parts.channels))
        return MatchingServicer(cache, builder, settings.min_version_wait_seconds)

    return start(SPEC, settings, servicer)


def main() -> None:
    serve(SPEC, create_server)


if __name__ == "__main__":
    main()
