"""Computing one client's recommendation set from the other services, and storing it.

Used both by the matching server (on a cache miss) and by the workers (when an
input changed). Everything is re-read at compute time, so a task that runs
late still computes from the newest inputs.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import NamedTuple

from dpm.catalog.v1 import catalog_pb2
from dpm.matching import convert, engine
from dpm.matching.cache import PutResult, RecommendationCache
from dpm.matching.model import Candidate
from dpm.matching.upstreams import Upstreams
from dpm.matching.v1 import matching_pb2
from dpm.neutrality.v1 import neutrality_pb2
from dpm.platform.errors import NotFound
from dpm.platform.names import ClientName, OrganizationName, VendorProfileName
from dpm.platform.telemetry import recommendation_computations, tracer
from dpm.platform.upstream import calling
from dpm.requirements.v1 import requirements_pb2

log = logging.getLogger(__name__)

# How many times a compare-and-set conflict (two computations that each saw a
# newer part of the inputs) is retried with fresh inputs.
CONFLICT_RETRIES = 5


class Candidates(NamedTuple):
    vendors: list[Candidate]
    catalog_version: int


class RecommendationBuilder:
    def __init__(self, upstreams: Upstreams) -> None:
        self._up = upstreams

    def candidates(self) -> Candidates:
        """Every vendor with a profile, and the catalog version they were read at."""
        names: dict[OrganizationName, str] = {}
        token = ""
        while True:
            with calling("catalog"):
                orgs = self._up.catalog.ListOrganizations(
                    catalog_pb2.ListOrganizationsRequest(page_size=1000, page_token=token)
                )
            names.update(
                (OrganizationName.trusted(o.name), o.display_name) for o in orgs.organizations
            )
            token = orgs.next_page_token
            if not token:
                break
        candidates: list[Candidate] = []
        catalog_version = 0
        while True:
            with calling("catalog"):
                page = self._up.catalog.ListVendorProfiles(
                    catalog_pb2.ListVendorProfilesRequest(page_size=1000, page_token=token)
                )
            catalog_version = catalog_version or page.catalog_version
            for profile in page.vendor_profiles:
                org = VendorProfileName.trusted(profile.name).organization
                candidates.append(
                    Candidate(org, names.get(org, str(org)), convert.profile_from_proto(profile))
                )
            token = page.next_page_token
            if not token:
                return Candidates(candidates, catalog_version)

    def build(
        self, client_id: str, snapshot: Candidates | None = None
    ) -> matching_pb2.RecommendationSet | None:
        """Compute from fresh inputs; None when the client no longer exists.

        ``snapshot`` lets a batch of clients share one read of the catalog.
        """
        client_name = ClientName(client_id)
        started = time.perf_counter()
        with tracer.start_as_current_span("dpm.matching.build") as span:
            span.set_attribute("dpm.client", str(client_name))
            try:
                with calling("requirements"):
                    client = self._up.requirements.GetClient(
                        requirements_pb2.GetClientRequest(name=str(client_name))
                    )
            except NotFound:
                return None
            candidates, catalog_version = snapshot or self.candidates()
            try:
                with calling("neutrality"):
                    scores = self._up.neutrality.ScoreVendors(
                        neutrality_pb2.ScoreVendorsRequest(
                            client=str(client_name),
                            vendors=[str(c.name) for c in candidates],
                            as_of=evaluation_date(client.neutrality_policy),
                        )
                    )
            except NotFound:
                return None
            ranked, excluded = engine.rank(
                convert.requirements_from_proto(client.requirements),
                candidates,
                convert.neutrality_from_proto(scores.vendors),
            )
            rec = matching_pb2.RecommendationSet(
                name=str(client_name.recommendations),
                ranked=[convert.ranked_to_proto(r) for r in ranked],
                excluded=[convert.excluded_to_proto(e) for e in excluded],
                versions=matching_pb2.SourceVersions(
                    graph_version=scores.graph_version,
                    catalog_version=catalog_version,
                    # The older of the two reads: a later computation that saw
                    # one consistent revision will then replace this one.
                    requirements_revision=min(client.revision, scores.requirements_revision),
                ),
                as_of=scores.as_of,
                unresolved_parties=scores.unresolved_parties,
            )
            rec.compute_time.FromDatetime(dt.datetime.now(dt.UTC))
            span.set_attribute("dpm.graph_version", scores.graph_version)
            recommendation_computations.record(time.perf_counter() - started)
            return rec


def evaluation_date(policy: requirements_pb2.NeutralityPolicy) -> str:
    """The date a client's set is computed as of: the policy's pinned date, else today (UTC).

    An unpinned set follows the calendar (ties age): the periodic
    reconciliation recomputes it, at least once a day.
    """
    return policy.as_of or dt.datetime.now(dt.UTC).date().isoformat()


def refresh(
    builder: RecommendationBuilder,
    cache: RecommendationCache,
    client_id: str,
    snapshot: Candidates | None = None,
) -> matching_pb2.RecommendationSet | None:
    """Recompute one client and store it unless something newer is already stored.

    Returns what the cache holds afterwards (None when the client is gone).
    A conflict (another computation saw newer inputs) retries from fresh reads.
    """
    for attempt in range(CONFLICT_RETRIES):
        rec = builder.build(client_id, snapshot if attempt == 0 else None)
        if rec is None:
            cache.delete(client_id)
            return None
        result = cache.put(rec)
        if result is PutResult.WRITTEN:
            return rec
        if result is PutResult.STALE:
            return cache.get(client_id) or rec
        log.info("concurrent recomputation for %s; recomputing", client_id)
    return cache.get(client_id)
