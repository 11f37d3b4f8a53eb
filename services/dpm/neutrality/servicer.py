"""NeutralityService: reads the policy and the graph, runs the pure math, answers.

Thin: request validation and proto <-> domain conversion only; the math is in
graph / control / exposure / chains / verdict / assess.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict

import grpc

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.neutrality.assess import assess
from dpm.neutrality.graph import GraphError, Holding, OwnershipGraph, Tie, TieKind
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.neutrality.verdict import Assessment, Policy, UnknownOwnership, Verdict
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.auth import require_client_access
from dpm.platform.dates import parse_date
from dpm.platform.errors import FailedPrecondition, NotFound, Violations
from dpm.platform.names import ORG_PREFIX, SLUG, org_name, parse_name
from dpm.platform.names import org_id as slug
from dpm.platform.telemetry import tracer
from dpm.platform.upstream import calling
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc

log = logging.getLogger(__name__)

PROFILE_SUFFIX = "/vendorProfile"

_TIE_KINDS = {
    ownership_pb2.TIE_KIND_LEADERSHIP_MOVE: TieKind.LEADERSHIP_MOVE,
    ownership_pb2.TIE_KIND_BOARD_INTERLOCK: TieKind.BOARD_INTERLOCK,
    ownership_pb2.TIE_KIND_EXCLUSIVE_CONTRACT: TieKind.EXCLUSIVE_CONTRACT,
    ownership_pb2.TIE_KIND_REVENUE_DEPENDENCY: TieKind.REVENUE_DEPENDENCY,
    ownership_pb2.TIE_KIND_DATA_SHARING: TieKind.DATA_SHARING,
}
_UNKNOWN = {
    requirements_pb2.UNKNOWN_OWNERSHIP_CONFLICTED: UnknownOwnership.CONFLICTED,
    requirements_pb2.UNKNOWN_OWNERSHIP_IGNORE: UnknownOwnership.IGNORE,
}
_VERDICTS = {
    Verdict.NEUTRAL: neutrality_pb2.VERDICT_NEUTRAL,
    Verdict.CAUTION: neutrality_pb2.VERDICT_CAUTION,
    Verdict.CONFLICTED: neutrality_pb2.VERDICT_CONFLICTED,
}


def graph_from_proto(msg: ownership_pb2.OwnershipGraph) -> OwnershipGraph:
    holdings = [
        Holding(
            slug(h.holder),
            slug(h.held),
            h.equity_fraction if h.HasField("equity_fraction") else None,
            h.voting_fraction if h.HasField("voting_fraction") else None,
            h.board_seats,
        )
        for h in msg.holdings
    ]
    ties = []
    for t in msg.ties:
        try:
            date = dt.date.fromisoformat(t.effective_date)
        except ValueError:
            log.warning("tie %s has no usable date %r; ignored", t.event_id, t.effective_date)
            continue
        if t.kind in _TIE_KINDS:
            kind = _TIE_KINDS[t.kind]
            ties.append(
                Tie(kind, slug(t.organization), slug(t.counterparty), date, t.person, t.role)
            )
    return OwnershipGraph.build(holdings, (slug(o) for o in msg.organizations), ties)


def policy_from_proto(msg: requirements_pb2.NeutralityPolicy) -> Policy:
    return Policy(
        competitors=tuple(dict.fromkeys(slug(c) for c in msg.competitors)),
        max_competitor_equity=msg.max_competitor_equity,
        max_competitor_voting=msg.max_competitor_voting,
        board_seat_disqualifies=msg.board_seat_disqualifies,
        leadership_move_disqualifies=msg.leadership_move_disqualifies,
        leadership_move_window_days=msg.leadership_move_window_days,
        unknown_ownership=_UNKNOWN.get(msg.unknown_ownership, UnknownOwnership.CAUTION),
    )


def assessment_to_proto(result: Assessment) -> neutrality_pb2.VendorNeutrality:
    return neutrality_pb2.VendorNeutrality(
        vendor=org_name(result.vendor),
        score=result.score,
        verdict=_VERDICTS[result.verdict],
        exposures=[
            neutrality_pb2.CompetitorExposure(
                competitor=org_name(e.competitor),
                integrated_equity=e.equity,
                integrated_voting=e.votes,
                controls=e.controls,
                undisclosed_stake=e.undisclosed_stake,
                board_seats=e.board_seats,
                top_chains=[
                    neutrality_pb2.OwnershipChain(
                        organizations=[org_name(o) for o in c.organizations], equity=c.equity
                    )
                    for c in e.chains
                ],
            )
            for e in result.exposures
        ],
        ties=[
            neutrality_pb2.TieFinding(
                kind=t.kind.value,
                competitor=org_name(t.competitor),
                description=t.description,
                effective_date=t.effective_date.isoformat(),
                weight=t.weight,
                disqualifying=t.disqualifying,
            )
            for t in result.ties
        ],
        reasons=list(result.reasons),
    )


class GraphCache:
    """The last few built graphs, keyed by (etag, as_of); each built once.

    The catalog sends the whole graph only when the etag we hold for that
    as_of is no longer current, so an unchanged graph costs one small call.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._graphs: OrderedDict[tuple[str, str], OwnershipGraph] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0

    @staticmethod
    def _key(msg: ownership_pb2.OwnershipGraph) -> tuple[str, str]:
        return (msg.etag or f"v{msg.version}", msg.as_of)

    def etag_for(self, as_of: str) -> str:
        """The etag of the newest graph held for as_of, or "" when none is."""
        with self._lock:
            for etag, date in reversed(self._graphs):
                if date == as_of:
                    return etag
        return ""

    def get(self, msg: ownership_pb2.OwnershipGraph) -> OwnershipGraph | None:
        """The graph for msg, built on first sight; None for a not-modified
        answer whose graph has meanwhile been evicted (ask again in full)."""
        key = self._key(msg)
        with self._lock:
            if key in self._graphs:
                self._graphs.move_to_end(key)
                return self._graphs[key]
        if msg.not_modified:
            return None
        with tracer.start_as_current_span("dpm.neutrality.build_graph") as span:
            span.set_attribute("dpm.graph_version", msg.version)
            try:
                graph = graph_from_proto(msg)
            except GraphError as exc:
                raise FailedPrecondition(
                    f"the ownership graph (version {msg.version}, as of {msg.as_of}) cannot be "
                    f"scored: {exc}",
                    reason="CLOSED_OWNERSHIP_CYCLE",
                ) from None
        with self._lock:
            self.builds += 1
            self._graphs[key] = graph
            while len(self._graphs) > self._size:
                self._graphs.popitem(last=False)
        return graph


def _timeout(context: grpc.ServicerContext, default: float) -> float:
    remaining = context.time_remaining()
    return default if remaining is None else max(0.001, min(default, remaining))


class NeutralityServicer(neutrality_pb2_grpc.NeutralityServiceServicer):
    def __init__(
        self,
        catalog: catalog_pb2_grpc.CatalogServiceStub,
        requirements: requirements_pb2_grpc.RequirementsServiceStub,
        rpc_timeout: float,
        cache_size: int = 4,
    ) -> None:
        self._catalog = catalog
        self._requirements = requirements
        self._rpc_timeout = rpc_timeout
        self.graphs = GraphCache(cache_size)

    def ScoreVendors(
        self, request: neutrality_pb2.ScoreVendorsRequest, context: grpc.ServicerContext
    ) -> neutrality_pb2.ScoreVendorsResponse:
        parse_name(request.client, "clients", "client")
        require_client_access(request.client)
        check = Violations()
        wanted: list[str] = []
        for i, name in enumerate(request.vendors):
            ident = name.removeprefix(ORG_PREFIX)
            if check.check(
                name.startswith(ORG_PREFIX) and bool(SLUG.match(ident)),
                f"vendors[{i}]",
                f"{name!r} must look like 'organizations/{{id}}'",
            ):
                wanted.append(ident)
        check.check(request.min_graph_version >= 0, "min_graph_version", "must not be negative")
        check.raise_if_any()
        as_of = parse_date(request.as_of, "as_of", default_today=True)
        timeout = _timeout(context, self._rpc_timeout)

        try:
            with calling("requirements"):
                client = self._requirements.GetClient(
                    requirements_pb2.GetClientRequest(name=request.client), timeout=timeout
                )
        except NotFound:
            raise NotFound(f"{request.client} does not exist") from None
        graph_msg, graph = self._graph(as_of.isoformat(), timeout)
        if request.min_graph_version > graph_msg.version:
            raise FailedPrecondition(
                f"the ownership graph is at version {graph_msg.version}, older than the "
                f"requested min_graph_version {request.min_graph_version}; retry shortly",
                reason="GRAPH_VERSION_BEHIND",
            )
        known = set(graph.nodes)
        if wanted:
            check = Violations()
            for i, ident in enumerate(wanted):
                check.check(
                    ident in known, f"vendors[{i}]", f"{org_name(ident)} is not in the catalog"
                )
            check.raise_if_any()
        else:
            wanted = self._all_vendors(timeout)
        policy = policy_from_proto(client.neutrality_policy)
        graph_date = dt.date.fromisoformat(graph_msg.as_of) if graph_msg.as_of else as_of
        with tracer.start_as_current_span("dpm.neutrality.score") as span:
            span.set_attribute("dpm.vendors", len(wanted))
            results = [assessment_to_proto(assess(graph, v, policy, graph_date)) for v in wanted]
        return neutrality_pb2.ScoreVendorsResponse(
            vendors=results,
            graph_version=graph_msg.version,
            requirements_revision=client.revision,
            as_of=graph_date.isoformat(),
        )

    def _graph(
        self, as_of: str, timeout: float
    ) -> tuple[ownership_pb2.OwnershipGraph, OwnershipGraph]:
        for etag in (self.graphs.etag_for(as_of), ""):
            with calling("catalog"):
                msg = self._catalog.ExportOwnershipGraph(
                    catalog_pb2.ExportOwnershipGraphRequest(as_of=as_of, if_none_match=etag),
                    timeout=timeout,
                )
            graph = self.graphs.get(msg)
            if graph is not None:
                return msg, graph
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
            vendors.extend(slug(p.name.removesuffix(PROFILE_SUFFIX)) for p in page.vendor_profiles)
            token = page.next_page_token
            if not token:
                return vendors
