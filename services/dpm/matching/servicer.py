"""MatchingService on asyncio: cache hits answered on the event loop, the rest on threads.

A hit is the served set's bytes from the process's near cache or from one
Redis read, sent as they are (no decoding, no re-encoding: see
``wire_bytes``). A miss, or a wait for a minimum graph version, runs the
blocking ``RecommendationReads`` on the server's thread pool, counted
against the caller's limit of calls in progress. A stream is a coroutine
waiting on the process's ``ChangeListener``: it holds no thread and no Redis
connection, and ends the moment its caller goes away.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import grpc
import redis.asyncio as aioredis
from opentelemetry import propagate, trace
from opentelemetry.trace import Link
from redis.exceptions import RedisError

from dpm.matching.cache import SERVED_FIELDS, RecommendationCache, served_bytes
from dpm.matching.concentration import MAX_VENDORS as MAX_WORK
from dpm.matching.concentration import ConcentrationAnalysis
from dpm.matching.listener import ChangeListener
from dpm.matching.near_cache import NearCache
from dpm.matching.planner import DEFAULT_MAX_VENDORS, MAX_EXCLUDED, MAX_VENDORS, Planner
from dpm.matching.reads import RecommendationReads
from dpm.matching.v1 import matching_pb2
from dpm.matching.what_if import MAX_NAMED_CLIENTS, WhatIf
from dpm.platform.auth import current_principal, require_client_access
from dpm.platform.dates import parse_date
from dpm.platform.errors import InvalidArgument, Unavailable, Violations
from dpm.platform.limits import CallLimiter
from dpm.platform.names import ClientName, OrganizationName, RecommendationsName, quote
from dpm.platform.telemetry import count_memory_hit, count_redis_hit, tracer

T = TypeVar("T")
# What the servicer answers with: a set, or a served set's bytes.
Reply = matching_pb2.RecommendationSet | bytes


def wire_bytes(reply: Reply) -> bytes:
    """The response serializer of the matching methods: bytes go out as they are."""
    return reply if isinstance(reply, bytes) else reply.SerializeToString()


def trace_notice(
    trace_context: dict[str, str],
    client_id: str,
    versions: matching_pb2.SourceVersions,
    woken_ns: int,
) -> None:
    """Record the span of one watch notice, from the change notice that woke the watch
    to the set handed to gRPC, in the trace of the write it announces (so an event's
    trace ends where a lab hears of it) and linked to the watch call's own span.

    Ended before the set is sent: the stream may be cancelled while it waits to send,
    and a span that ends after a ``yield`` would then never end."""
    parent = propagate.extract(trace_context) if trace_context else None
    call = trace.get_current_span().get_span_context()
    tracer.start_span(
        "dpm.matching.watch_notice",
        context=parent,
        links=[Link(call)] if call.is_valid else [],
        start_time=woken_ns,
        attributes={
            "dpm.client": client_id,
            "dpm.graph_version": versions.graph_version,
            "dpm.catalog_version": versions.catalog_version,
            "dpm.requirements_revision": versions.requirements_revision,
        },
    ).end()


def _client_id(check: Violations, value: str) -> str:
    """The id of the request's "client" field; a bad name added to ``check``."""
    try:
        return ClientName.parse(value, "client").id
    except InvalidArgument as exc:
        for violation in exc.violations:
            check.add(violation.field, violation.description)
        return ""


def _check_date(check: Violations, value: str, field: str) -> None:
    """An optional "YYYY-MM-DD"; a bad one added to ``check``."""
    if value:
        try:
            parse_date(value, field)
        except InvalidArgument as exc:
            check.add(field, exc.violations[0].description)


class MatchingServicer:
    def __init__(
        self,
        reads: RecommendationReads,
        names: RecommendationCache,
        client: aioredis.Redis,
        near_cache: NearCache,
        listener: ChangeListener,
        pool: ThreadPoolExecutor,
        limiter: CallLimiter,
        what_if: WhatIf,
        planner: Planner,
        concentration: ConcentrationAnalysis,
    ) -> None:
        self._what_if = what_if
        self._planner = planner
        self._concentration = concentration
        self._reads = reads
        self._names = names
        self._redis = client
        self._near = near_cache
        self._listener = listener
        self._pool = pool
        self._limiter = limiter

    async def _served(self, client_id: str) -> tuple[bytes, int] | None:
        """The served set and its graph version, from Redis (one round trip)."""
        fields = await self._redis.hmget(self._names.key(client_id), SERVED_FIELDS)
        data = served_bytes(fields)
        return None if data is None else (data, int(fields[1] or 0))

    def _near_hit(self, client_id: str, min_graph_version: int) -> bytes | None:
        """The served set when the near cache holds one recent enough (no await: most
        calls end here, and each coroutine layer costs)."""
        entry = self._near.get(client_id)
        if entry is None or entry.graph_version < min_graph_version:
            return None
        count_memory_hit()
        return entry.data

    async def _redis_hit(self, client_id: str, min_graph_version: int) -> bytes | None:
        """The served set when Redis holds one recent enough (kept in the near cache)."""
        ticket = self._near.begin(client_id)
        found = None
        try:
            found = await self._served(client_id)
        finally:
            if found is None:  # nothing to keep (or Redis failed: nothing read)
                self._near.abandon(client_id, ticket)
        if found is None:
            return None
        data, graph_version = found
        self._near.finish(client_id, ticket, data, graph_version)
        if graph_version < min_graph_version:
            return None
        count_redis_hit()
        return data

    async def _blocking(self, call: Callable[..., T], *args: object) -> T:
        """Run ``call`` on the thread pool, as one of the caller's calls in progress."""
        context = contextvars.copy_context()  # the principal and the trace go along
        with self._limiter.hold(current_principal(), stream=False):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._pool, functools.partial(context.run, call, *args)
            )

    async def GetRecommendations(
        self, request: matching_pb2.GetRecommendationsRequest, context: grpc.aio.ServicerContext
    ) -> Reply:
        name = RecommendationsName.parse(request.name, "name")
        require_client_access(ClientName.format(name.id))
        if request.min_graph_version < 0:
            raise InvalidArgument.one("min_graph_version", "must not be negative")
        data = self._near_hit(name.id, request.min_graph_version)
        if data is not None:
            return data
        try:
            data = await self._redis_hit(name.id, request.min_graph_version)
            if data is not None:
                return data
            budget = self._reads.wait_budget(context.time_remaining())
            if request.min_graph_version:
                return await self._blocking(
                    self._reads.get_at_least, name.id, request.min_graph_version, budget
                )
            return await self._blocking(self._reads.get, name.id, budget)
        except RedisError as exc:
            raise Unavailable(f"the recommendation cache does not answer: {exc}") from None

    async def SimulateEvent(
        self, request: matching_pb2.SimulateEventRequest, context: grpc.aio.ServicerContext
    ) -> matching_pb2.SimulateEventResponse:
        principal = current_principal()
        check = Violations()
        check.check(
            len(request.clients) <= MAX_NAMED_CLIENTS,
            "clients",
            f"at most {MAX_NAMED_CLIENTS} labs",
        )
        ids: list[str] = []
        for i, value in enumerate(request.clients[:MAX_NAMED_CLIENTS]):
            try:
                ids.append(ClientName.parse(value, f"clients[{i}]").id)
            except InvalidArgument as exc:
                for violation in exc.violations:
                    check.add(violation.field, violation.description)
        _check_date(check, request.as_of, "as_of")
        check.raise_if_any()
        if not ids and not principal.reads_everything:
            ids = [ClientName.parse(principal.subject, "token").id]  # a lab: its own
        for client_id in ids:
            require_client_access(ClientName.format(client_id))
        return await self._blocking(self._what_if.simulate, request.event, ids, request.as_of)

    async def PlanPortfolio(
        self, request: matching_pb2.PlanPortfolioRequest, context: grpc.aio.ServicerContext
    ) -> matching_pb2.PortfolioPlan:
        check = Violations()
        client_id = _client_id(check, request.client)
        check.check(
            0 <= request.max_vendors <= MAX_VENDORS,
            "max_vendors",
            f"must be between 1 and {MAX_VENDORS} (0: {DEFAULT_MAX_VENDORS})",
        )
        _check_date(check, request.as_of, "as_of")
        check.check(
            len(request.exclude_vendors) <= MAX_EXCLUDED,
            "exclude_vendors",
            f"at most {MAX_EXCLUDED} vendors",
        )
        for i, value in enumerate(request.exclude_vendors[:MAX_EXCLUDED]):
            check.check(
                OrganizationName.matches(value),
                f"exclude_vendors[{i}]",
                f"{quote(value)} must look like {OrganizationName.template()!r}",
            )
        check.raise_if_any()
        require_client_access(request.client)
        return await self._blocking(
            self._planner.plan,
            client_id,
            request.max_vendors or DEFAULT_MAX_VENDORS,
            request.as_of,
            list(request.exclude_vendors),
            request.neutral_only,
        )

    async def AnalyzeConcentration(
        self,
        request: matching_pb2.AnalyzeConcentrationRequest,
        context: grpc.aio.ServicerContext,
    ) -> matching_pb2.ConcentrationReport:
        check = Violations()
        client_id = _client_id(check, request.client)
        check.check(
            0 < len(request.work) <= MAX_WORK,
            "work",
            f"name 1 to {MAX_WORK} vendors and the units each takes a month",
        )
        work: dict[str, int] = {}
        for i, item in enumerate(request.work[:MAX_WORK]):
            if not check.check(
                OrganizationName.matches(item.vendor),
                f"work[{i}].vendor",
                f"{quote(item.vendor)} must look like {OrganizationName.template()!r}",
            ):
                continue
            check.check(item.vendor not in work, f"work[{i}].vendor", "names a vendor named before")
            check.check(item.monthly_units > 0, f"work[{i}].monthly_units", "must be above 0")
            work[item.vendor] = item.monthly_units
        _check_date(check, request.as_of, "as_of")
        check.raise_if_any()
        require_client_access(request.client)
        return await self._blocking(
            self._concentration.analyze,
            client_id,
            work,
            request.as_of,
            request.what_if if request.HasField("what_if") else None,
        )

    async def WatchRecommendations(
        self, request: matching_pb2.WatchRecommendationsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Reply]:
        name = RecommendationsName.parse(request.name, "name")
        require_client_access(ClientName.format(name.id))
        client_id = name.id
        try:
            # Listen before reading, so no change between the two is missed.
            with self._listener.watch(client_id) as watch:
                # Straight from Redis (here and below): the near cache may not have
                # heard of the latest change yet.
                found = await self._served(client_id)
                if found is None:
                    budget = self._reads.wait_budget(None)
                    first = wire_bytes(await self._blocking(self._reads.get, client_id, budget))
                else:
                    first = found[0]
                yield first
                sent = matching_pb2.RecommendationSet.FromString(first).versions
                while True:
                    await watch.changed.wait()
                    watch.changed.clear()
                    woken_ns = time.time_ns()
                    found = await self._served(client_id)
                    if found is None:
                        return  # the client was deleted
                    rec = matching_pb2.RecommendationSet.FromString(found[0])
                    if rec.versions != sent:
                        sent = rec.versions
                        trace_notice(watch.trace, client_id, rec.versions, woken_ns)
                        yield found[0]
        except RedisError as exc:
            raise Unavailable(f"the recommendation cache went away: {exc}") from None
