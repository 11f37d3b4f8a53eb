"""NeutralityService: reads the policy and the graph, runs the pure math, answers.

Thin: request validation and calls; the mapping to and from the math model is
in ``convert``, the math in graph / control / exposure / chains / verdict / assess.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

import grpc

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.neutrality.assess import assess
from dpm.neutrality.convert import assessment_to_proto, org_name, policy_from_proto, slug
from dpm.neutrality.graph import OwnershipGraph
from dpm.neutrality.graph_cache import GraphCache
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.auth import require_client_access
from dpm.platform.dates import parse_date
from dpm.platform.errors import DeadlineExceeded, FailedPrecondition, NotFound, Violations
from dpm.platform.names import ClientName, OrganizationName, VendorProfileName, quote
from dpm.platform.telemetry import tracer
from dpm.platform.upstream import calling
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc

log = logging.getLogger(__name__)


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
        # One fetch per effective date at a time: concurrent scorings of a new
        # graph wait for it rather than each fetching and building it again.
        self._fetching: dict[str, threading.Lock] = {}
        self._fetching_guard = threading.Lock()

    def ScoreVendors(
        self, request: neutrality_pb2.ScoreVendorsRequest, context: grpc.ServicerContext
    ) -> neutrality_pb2.ScoreVendorsResponse:
        ClientName.parse(request.client, "client")
        require_client_access(request.client)
        check = Violations()
        wanted: list[str] = []
        for i, name in enumerate(request.vendors):
            if check.check(
                OrganizationName.matches(name),
                f"vendors[{i}]",
                f"{quote(name)} must look like {OrganizationName.template()!r}",
            ):
                wanted.append(slug(name))
        check.check(request.min_graph_version >= 0, "min_graph_version", "must not be negative")
        check.check(
            bool(request.as_of),
            "as_of",
            "is required (YYYY-MM-DD): the effective date the ownership graph is read at",
        )
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
        unresolved = sorted(
            {*policy.competitors, *policy.restricted_parties}.difference(graph.index)
        )
        return neutrality_pb2.ScoreVendorsResponse(
            vendors=results,
            graph_version=graph_msg.version,
            requirements_revision=client.revision,
            as_of=graph_date.isoformat(),
            unresolved_parties=[org_name(o) for o in unresolved],
        )

    def _graph(
        self, as_of: str, timeout: float
    ) -> tuple[ownership_pb2.OwnershipGraph, OwnershipGraph]:
        with self._fetching_guard:
            lock = self._fetching.setdefault(as_of, threading.Lock())
        if not lock.acquire(timeout=timeout):
            raise DeadlineExceeded(f"the ownership graph as of {as_of} is still being read")
        try:
            return self._fetch_graph(as_of, timeout)
        finally:
            lock.release()

    def _fetch_graph(
        self, as_of: str, timeout: float
    ) -> tuple[ownership_pb2.OwnershipGraph, OwnershipGraph]:
        for etag in (self.graphs.etag_for(as_of), ""):
            msg = ownership_pb2.OwnershipGraph()
            with calling("catalog"):
                # In parts: no size of catalog exceeds a message limit.
                for part in self._catalog.StreamOwnershipGraph(
                    catalog_pb2.ExportOwnershipGraphRequest(as_of=as_of, if_none_match=etag),
                    timeout=timeout,
                ):
                    msg.MergeFrom(part)
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
            vendors.extend(VendorProfileName.trusted(p.name).id for p in page.vendor_profiles)
            token = page.next_page_token
            if not token:
                return vendors
