"""NeutralityService: reads the policy and the graph, runs the pure math, answers.

Thin: request validation and calls; the mapping to and from the math model is
in ``convert``, the math in graph / control / exposure / chains / verdict / assess.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import grpc

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.neutrality.assess import assess
from dpm.neutrality.control import ultimate_controller
from dpm.neutrality.convert import (
    assessment_to_proto,
    org_name,
    policy_from_proto,
    slug,
    verdict_to_proto,
)
from dpm.neutrality.graph import OwnershipGraph
from dpm.neutrality.graph_cache import GraphCache
from dpm.neutrality.policy_rules import check_policy
from dpm.neutrality.score_memo import MemoKey, Scored, ScoreMemo, answer_etag, policy_key
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.auth import current_principal, require_client_access
from dpm.platform.dates import parse_date
from dpm.platform.errors import DeadlineExceeded, FailedPrecondition, NotFound, Violations
from dpm.platform.names import ClientName, OrganizationName, VendorProfileName, quote
from dpm.platform.telemetry import tracer
from dpm.platform.upstream import calling, relaying
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc

log = logging.getLogger(__name__)


def _timeout(context: grpc.ServicerContext, default: float) -> float:
    remaining = context.time_remaining()
    return default if remaining is None else max(0.001, min(default, remaining))


def _check_scoring(
    check: Violations, vendors: Sequence[str], min_graph_version: int, as_of: str
) -> list[str]:
    """The vendor ids of a scoring request; its violations added to ``check``."""
    wanted: list[str] = []
    for i, name in enumerate(vendors):
        if check.check(
            OrganizationName.matches(name),
            f"vendors[{i}]",
            f"{quote(name)} must look like {OrganizationName.template()!r}",
        ):
            wanted.append(slug(name))
    check.check(min_graph_version >= 0, "min_graph_version", "must not be negative")
    check.check(
        bool(as_of),
        "as_of",
        "is required (YYYY-MM-DD): the effective date the ownership graph is read at",
    )
    return wanted


def _assess_all(
    graph: OwnershipGraph,
    message: requirements_pb2.NeutralityPolicy,
    vendors: list[str],
    graph_date: dt.date,
    verdicts_only: bool,
) -> Scored:
    policy = policy_from_proto(message)
    to_proto = verdict_to_proto if verdicts_only else assessment_to_proto
    results = [to_proto(assess(graph, v, policy, graph_date)) for v in vendors]
    for result, vendor in zip(results, vendors, strict=True):
        result.ultimate_owner = org_name(_ultimate_owner(graph, vendor))
    unresolved = sorted({*policy.competitors, *policy.restricted_parties}.difference(graph.index))
    return Scored(results, [org_name(o) for o in unresolved])


def _ultimate_owner(graph: OwnershipGraph, vendor: str) -> str:
    if vendor not in graph.index:
        return vendor
    return graph.nodes[ultimate_controller(graph, graph.index[vendor])]


@dataclass(frozen=True)
class _Read:
    """A read of the graph as of one date: when it started, and its outcome."""

    started: float  # time.monotonic()
    future: Future[tuple[ownership_pb2.OwnershipGraph, OwnershipGraph]]


class NeutralityServicer(neutrality_pb2_grpc.NeutralityServiceServicer):
    def __init__(
        self,
        catalog: catalog_pb2_grpc.CatalogServiceStub,
        requirements: requirements_pb2_grpc.RequirementsServiceStub,
        rpc_timeout: float,
        cache_size: int = 4,
        memo_size: int = 64,
        graph_read_timeout: float = 900.0,
    ) -> None:
        self._catalog = catalog
        self._requirements = requirements
        self._rpc_timeout = rpc_timeout
        self.graphs = GraphCache(cache_size)
        self.memo = ScoreMemo(memo_size)
        # One read of the graph per effective date at a time, on threads of its own:
        # concurrent scorings share it, and a read longer than a call's deadline (a
        # whole register) goes on when that call gives up, for the calls after it.
        self._graph_read_timeout = graph_read_timeout
        self._reads: dict[str, _Read] = {}  # the newest read per date (done or not)
        self._reads_guard = threading.Lock()
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="graph-read")

    def ScoreVendors(
        self, request: neutrality_pb2.ScoreVendorsRequest, context: grpc.ServicerContext
    ) -> neutrality_pb2.ScoreVendorsResponse:
        ClientName.parse(request.client, "client")
        require_client_access(request.client)
        check = Violations()
        wanted = _check_scoring(check, request.vendors, request.min_graph_version, request.as_of)
        check.raise_if_any()
        as_of = parse_date(request.as_of, "as_of")
        timeout = _timeout(context, self._rpc_timeout)

        try:
            with calling("requirements"):
                client = self._requirements.GetClient(
                    requirements_pb2.GetClientRequest(name=request.client), timeout=timeout
                )
        except NotFound:
            raise NotFound(f"{request.client} does not exist") from None
        reply = self._score(
            client.neutrality_policy, wanted, as_of, request.min_graph_version, timeout
        )
        reply.requirements_revision = client.revision
        return reply

    def ScorePolicy(
        self, request: neutrality_pb2.ScorePolicyRequest, context: grpc.ServicerContext
    ) -> neutrality_pb2.ScoreVendorsResponse:
        current_principal()  # any caller: the answer says nothing about any client
        timeout = _timeout(context, self._rpc_timeout)
        if request.if_none_match and not request.HasField("what_if"):
            unchanged = self._unchanged(request, timeout)
            if unchanged is not None:
                return unchanged
        check = Violations()
        check_policy(check, request.policy, "policy")
        wanted = _check_scoring(check, request.vendors, request.min_graph_version, request.as_of)
        check.raise_if_any()
        as_of = parse_date(request.as_of, "as_of")
        what_if = (
            self._what_if(request.what_if, as_of, timeout) if request.HasField("what_if") else None
        )
        return self._score(
            request.policy,
            wanted,
            as_of,
            request.min_graph_version,
            timeout,
            verdicts_only=request.verdicts_only,
            answer_of=request,
            on=what_if,
        )

    def _what_if(
        self, event: ownership_pb2.OwnershipEvent, as_of: dt.date, timeout: float
    ) -> tuple[ownership_pb2.OwnershipGraph, OwnershipGraph]:
        """The graph as of ``as_of`` had ``event`` been recorded: simulated by the catalog
        as a delta from the graph held for that date (read first), built, not kept."""
        date = as_of.isoformat()
        self._graph(date, timeout)
        for etag in (self.graphs.etag_for(date), ""):
            with relaying("catalog", "what_if", "event"):
                answer = self._catalog.SimulateOwnershipEvent(
                    catalog_pb2.SimulateOwnershipEventRequest(
                        event=event, as_of=date, if_none_match=etag, accept_delta=bool(etag)
                    ),
                    timeout=timeout,
                )
            graph = self.graphs.what_if(answer.graph)
            if graph is not None:
                msg = answer.graph
                return ownership_pb2.OwnershipGraph(
                    version=msg.version, as_of=msg.as_of, etag=msg.etag
                ), graph
        raise AssertionError("a whole simulated graph always builds")  # pragma: no cover

    def _unchanged(
        self, request: neutrality_pb2.ScorePolicyRequest, timeout: float
    ) -> neutrality_pb2.ScoreVendorsResponse | None:
        """Only the header, when the answer the caller holds (``if_none_match``) is still
        the answer: the worker asks again for every chunk of labs. Nothing is validated
        or assessed then: the same request was, on this graph, to make that etag."""
        graph_msg, _ = self._graph(parse_date(request.as_of, "as_of").isoformat(), timeout)
        if graph_msg.version < request.min_graph_version:
            return None
        etag = answer_etag(GraphCache.key(graph_msg), request)
        if etag != request.if_none_match:
            return None
        as_of = graph_msg.as_of or request.as_of
        return neutrality_pb2.ScoreVendorsResponse(
            graph_version=graph_msg.version, as_of=as_of, etag=etag, not_modified=True
        )

    def _score(
        self,
        policy: requirements_pb2.NeutralityPolicy,
        wanted: list[str],
        as_of: dt.date,
        min_graph_version: int,
        timeout: float,
        verdicts_only: bool = False,
        answer_of: neutrality_pb2.ScorePolicyRequest | None = None,
        on: tuple[ownership_pb2.OwnershipGraph, OwnershipGraph] | None = None,
    ) -> neutrality_pb2.ScoreVendorsResponse:
        """Score ``wanted`` (vendor ids; empty: every vendor with a profile) for a
        validated ``policy`` on the graph as of ``as_of`` (or ``on`` this one: a what-if);
        with ``answer_of``, the answer carries the etag of that request on this graph."""
        graph_msg, graph = on or self._graph(as_of.isoformat(), timeout)
        if min_graph_version > graph_msg.version:
            raise FailedPrecondition(
                f"the ownership graph is at version {graph_msg.version}, older than the "
                f"requested min_graph_version {min_graph_version}; retry shortly",
                reason="GRAPH_VERSION_BEHIND",
            )
        if wanted:
            check = Violations()
            for i, ident in enumerate(wanted):
                check.check(
                    ident in graph.index,
                    f"vendors[{i}]",
                    f"{org_name(ident)} is not in the catalog",
                )
            check.raise_if_any()
        else:
            wanted = self._all_vendors(timeout)
        graph_date = dt.date.fromisoformat(graph_msg.as_of) if graph_msg.as_of else as_of
        key: MemoKey = (
            GraphCache.key(graph_msg),
            graph_date.isoformat(),
            policy_key(policy),
            tuple(wanted),
            verdicts_only,
        )
        header = neutrality_pb2.ScoreVendorsResponse(
            graph_version=graph_msg.version, as_of=graph_date.isoformat()
        )
        if answer_of is not None:
            header.etag = answer_etag(GraphCache.key(graph_msg), answer_of)
        with tracer.start_as_current_span("dpm.neutrality.score") as span:
            span.set_attribute("dpm.vendors", len(wanted))
            scored, memoised = self.memo.get(
                key, lambda: _assess_all(graph, policy, wanted, graph_date, verdicts_only)
            )
            span.set_attribute("dpm.memoised", memoised)
        header.vendors.extend(scored.vendors)
        header.unresolved_parties.extend(scored.unresolved_parties)
        return header

    def _graph(
        self, as_of: str, timeout: float
    ) -> tuple[ownership_pb2.OwnershipGraph, OwnershipGraph]:
        """The graph as of ``as_of`` from a read of the catalog that started after this
        call did (so it includes every event recorded before the call): joins such a
        read in progress, or waits for an older one and starts the next."""
        arrived = time.monotonic()
        deadline = arrived + timeout
        while True:
            with self._reads_guard:
                read = self._reads.get(as_of)
                if read is None or read.future.done():
                    context = contextvars.copy_context()  # the trace goes along
                    future = self._readers.submit(
                        context.run, self._fetch_graph, as_of, self._graph_read_timeout
                    )
                    read = self._reads[as_of] = _Read(time.monotonic(), future)
            try:
                result = read.future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                raise DeadlineExceeded(
                    f"the ownership graph as of {as_of} is still being read; retry shortly"
                ) from None
            except Exception:
                if read.started >= arrived:
                    raise
                continue  # an older read's failure: read again
            with self._reads_guard:  # done: the graph stays only in self.graphs
                if self._reads.get(as_of) is read:
                    del self._reads[as_of]
            if read.started >= arrived:
                return result

    def close(self) -> None:
        """Stop reading graphs (the server is stopping)."""
        self._readers.shutdown(wait=False, cancel_futures=True)

    def _fetch_graph(
        self, as_of: str, timeout: float
    ) -> tuple[ownership_pb2.OwnershipGraph, OwnershipGraph]:
        for etag in (self.graphs.etag_for(as_of), ""):
            msg = ownership_pb2.OwnershipGraph()
            with calling("catalog"):
                # In parts: no size of catalog exceeds a message limit.
                for part in self._catalog.StreamOwnershipGraph(
                    catalog_pb2.ExportOwnershipGraphRequest(
                        as_of=as_of, if_none_match=etag, accept_delta=bool(etag)
                    ),
                    timeout=timeout,
                ):
                    msg.MergeFrom(part)
            graph = self.graphs.get(msg)
            if graph is not None:
                # The header only: a whole register's message is hundreds of MiB.
                header = ownership_pb2.OwnershipGraph(
                    version=msg.version, as_of=msg.as_of, etag=msg.etag
                )
                return header, graph
        raise AssertionError("a full graph export always builds")  # pragma: no cover

    def _all_vendors(self, timeout: float) -> list[str]:
        vendors: list[str] = []
        token = ""
        while True:
            with calling("catalog"):
                page = self._catalog.ListVendorProfiles(
                    catalog_pb2.ListVendorProfilesRequest(page_size=1000, page_token=token),
                    timeout=timeout,
                )
            vendors.extend(VendorProfileName.trusted(p.name).id for p in page.vendor_profiles)
            token = page.next_page_token
            if not token:
                return vendors
