"""Bootstrap of the matching server: Redis cache, upstream channels, gRPC server."""

from __future__ import annotations

import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dpm.matching.cache import RecommendationCache
from dpm.matching.compute import RecommendationBuilder, open_upstreams
from dpm.matching.servicer import MatchingServicer
from dpm.matching.settings import MatchingSettings
from dpm.matching.v1 import matching_pb2_grpc
from dpm.platform import auth
from dpm.platform.config import load
from dpm.platform.grpc_server import RunningServer, build_server, serve

SERVICE_NAME = "dpm.matching.v1.MatchingService"


def create_server(settings: MatchingSettings) -> RunningServer:
    redis_client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    upstreams = open_upstreams(settings, auth.service_token(settings.token_secret, "matching"))
    servicer = MatchingServicer(
        RecommendationCache(redis_client, settings.cache_prefix),
        RecommendationBuilder(upstreams),
        settings.min_version_wait_seconds,
    )
    health_stubs = {
        name: health_pb2_grpc.HealthStub(channel)
        for name, channel in zip(
            ("catalog", "requirements", "neutrality"), upstreams.channels, strict=True
        )
    }

    def readiness() -> str | None:
        try:
            redis_client.ping()
        except redis.RedisError as exc:
            return f"redis: {exc}"
        for name, stub in health_stubs.items():
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status
            except Exception as exc:
                return f"{name}: {type(exc).__name__}"
            if status != health_pb2.HealthCheckResponse.SERVING:
                return f"{name}: not serving"
        return None

    running = build_server(
        settings,
        [lambda server: matching_pb2_grpc.add_MatchingServiceServicer_to_server(servicer, server)],
        [SERVICE_NAME],
        readiness,
    )
    running.closers += [upstreams.close, redis_client.close]
    return running


def main() -> None:
    serve("matching", load(MatchingSettings), create_server)


if __name__ == "__main__":
    main()
