"""Matching server bootstrap: an asyncio server over the Redis cache, its near cache and
change listener, the thread pool for computations and channels to its upstreams.

DPM_TOKEN_SECRET=... python -m dpm.matching.server
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import grpc
import redis.asyncio as aioredis

from dpm.matching.cache import RecommendationCache
from dpm.matching.compute import RecommendationBuilder
from dpm.matching.concentration import ConcentrationAnalysis
from dpm.matching.listener import ChangeListener
from dpm.matching.near_cache import NearCache
from dpm.matching.planner import Planner
from dpm.matching.reads import RecommendationReads
from dpm.matching.servicer import MatchingServicer, wire_bytes
from dpm.matching.settings import MatchingSettings
from dpm.matching.upstreams import SERVICES, Upstreams
from dpm.matching.v1 import matching_pb2
from dpm.matching.what_if import WhatIf
from dpm.platform.aio_interceptors import GuardedServer
from dpm.platform.grpc_server import RunningServer
from dpm.platform.service import Parts, ServiceSpec, serve, start

SERVICE = matching_pb2.DESCRIPTOR.services_by_name["MatchingService"]


def add_servicer(servicer: MatchingServicer, server: GuardedServer) -> None:
    """Register the methods with ``wire_bytes`` as response serializer (the generated
    registration would re-encode the cached bytes)."""
    handlers = {
        "GetRecommendations": grpc.unary_unary_rpc_method_handler(
            servicer.GetRecommendations,
            request_deserializer=matching_pb2.GetRecommendationsRequest.FromString,
            response_serializer=wire_bytes,
        ),
        "SimulateEvent": grpc.unary_unary_rpc_method_handler(
            servicer.SimulateEvent,
            request_deserializer=matching_pb2.SimulateEventRequest.FromString,
            response_serializer=matching_pb2.SimulateEventResponse.SerializeToString,
        ),
        "AnalyzeConcentration": grpc.unary_unary_rpc_method_handler(
            servicer.AnalyzeConcentration,
            request_deserializer=matching_pb2.AnalyzeConcentrationRequest.FromString,
            response_serializer=matching_pb2.ConcentrationReport.SerializeToString,
        ),
        "PlanPortfolio": grpc.unary_unary_rpc_method_handler(
            servicer.PlanPortfolio,
            request_deserializer=matching_pb2.PlanPortfolioRequest.FromString,
            response_serializer=matching_pb2.PortfolioPlan.SerializeToString,
        ),
        "WatchRecommendations": grpc.unary_stream_rpc_method_handler(
            servicer.WatchRecommendations,
            request_deserializer=matching_pb2.WatchRecommendationsRequest.FromString,
            response_serializer=wire_bytes,
        ),
    }
    assert set(handlers) == set(SERVICE.methods_by_name), "every method registered"
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),)
    )


SPEC = ServiceSpec(
    name="matching",
    service=SERVICE,
    add_servicer=add_servicer,
    settings=MatchingSettings,
    upstreams=SERVICES,
    asyncio=True,
)


def create_server(settings: MatchingSettings) -> RunningServer:
    def servicer(parts: Parts) -> MatchingServicer:
        names = RecommendationCache(parts.redis(settings.redis_url), settings.cache_prefix)
        upstreams = Upstreams.from_channels(parts.channels)
        builder = RecommendationBuilder(upstreams, settings.recommendation_set_size)
        reads = RecommendationReads(names, builder, settings.min_version_wait_seconds)
        near_cache = NearCache(settings.near_cache_entries, settings.near_cache_seconds)
        loop = parts.loop
        client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5.0)
        parts.on_close(lambda: loop.run(client.aclose(), timeout=5))
        listener = ChangeListener(client, names, near_cache)
        listening = loop.run(_start(listener.run()))
        parts.on_close(lambda: loop.run(_cancel(listening), timeout=5))
        planner = Planner(builder, upstreams, settings.plan_time_limit_seconds)
        parts.on_close(planner.close)
        return MatchingServicer(
            reads,
            names,
            client,
            near_cache,
            listener,
            parts.pool,
            parts.limiter,
            WhatIf(builder, upstreams),
            planner,
            ConcentrationAnalysis(upstreams),
        )

    return start(SPEC, settings, servicer)


async def _start(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(coro)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def main() -> None:
    serve(SPEC, create_server)


if __name__ == "__main__":
    main()
