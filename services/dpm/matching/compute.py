"""Computing clients' recommendation sets from the other services, and storing them.

Used both by the matching server (one client, on a cache miss) and by the
workers (chunks of clients, when an input changed): one code path, so every
set is the same whoever computed it. Everything is re-read at compute time,
so a task that runs late still computes from the newest inputs.

A chunk costs one read of the catalog's vendor profiles, one read of its
clients (BatchGetClients), one ScorePolicy call per distinct neutrality
policy among them (labs share policies: one competitor group, one answer;
after the first chunk it comes back as a header while the graph stands)
and array ranking per client over the catalog (``ranking_arrays``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from dpm.catalog.v1 import catalog_pb2
from dpm.matching import convert
from dpm.matching.cache import Encoded, PutResult, RecommendationCache
from dpm.matching.engine import RankedSet
from dpm.matching.model import Candidate, Requirements
from dpm.matching.ranking_arrays import NeutralityColumn, VendorTable, rank_top
from dpm.matching.settings import DEFAULT_SET_SIZE
from dpm.matching.upstreams import Upstreams
from dpm.matching.v1 import matching_pb2
from dpm.neutrality.v1 import neutrality_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.errors import DomainError, Unavailable
from dpm.platform.names import ClientName, RecommendationsName, VendorProfileName
from dpm.platform.telemetry import recommendation_computations, tracer
from dpm.platform.upstream import calling, relaying
from dpm.requirements.v1 import requirements_pb2

log = logging.getLogger(__name__)

# How many times a compare-and-set conflict (two computations that each saw a
# newer part of the inputs) is retried with fresh inputs.
CONFLICT_RETRIES = 5
# Neutrality results kept converted, each with up to RANKINGS_KEPT rankings of ~5 KiB
# (at most ~80 MiB; typically a few policies x templates).
COLUMNS_KEPT = 16
# Rankings kept per neutrality result (one per distinct requirements).
RANKINGS_KEPT = 1024
# Names per BatchGetClients call (the requirements service's limit).
BATCH_READ = 1000


class Snapshot(NamedTuple):
    """The catalog's vendors as arrays, and the catalog version they were read at."""

    table: VendorTable
    catalog_version: int


@dataclass
class Built:
    """What ``build_many`` computed, by client id."""

    encoded: dict[str, Encoded] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)  # no such client (any more)
    # Clients that could not be computed, and why (their policy could not be
    # scored, e.g. the graph is behind; requirements this code cannot read).
    failed: dict[str, Exception] = field(default_factory=dict)

    def get(self, client_id: str) -> matching_pb2.RecommendationSet | None:
        found = self.encoded.get(client_id)
        return None if found is None else found.decode()

    @property
    def sets(self) -> dict[str, matching_pb2.RecommendationSet]:
        """Every computed set, decoded."""
        return {c: e.decode() for c, e in self.encoded.items()}


class RecommendationBuilder:
    def __init__(self, upstreams: Upstreams, set_size: int = DEFAULT_SET_SIZE) -> None:
        self._up = upstreams
        self._set_size = set_size
        self._table: VendorTable | None = None
        # A table caches per-requirements arrays as it ranks: one thread at a time
        # (the server computes misses on several threads; a worker process on one).
        self._ranking = threading.Lock()
        self._columns: OrderedDict[bytes, _Scored] = OrderedDict()
        self._known: dict[bytes, Candidate] = {}  # the last catalog read, by profile bytes
        self._snapshot: Snapshot | None = None  # the last one, reused while the catalog is
        # The last neutrality answer per (policy, date), with the table it scored: its etag
        # goes back with the next request, so the chunks after the first get only a header
        # while the graph stands.
        self._answers: OrderedDict[
            tuple[bytes, str], tuple[VendorTable, neutrality_pb2.ScoreVendorsResponse]
        ] = OrderedDict()
        self._answers_lock = threading.Lock()
        self.answers_not_modified = 0

    def snapshot(self, reread: bool = False) -> Snapshot:
        """Every vendor with a profile, as arrays; rebuilt only when the vendors changed.

        The profiles are read again only when the catalog's version moved, or with
        ``reread`` (the reconciliation's first chunk in a process: a catalog restored
        from a backup may come back to a version held here with other content).
        """
        last = self._snapshot
        if not reread and last is not None and self._unchanged_since(last.catalog_version):
            return last
        candidates, catalog_version = self._candidates()
        with self._ranking:
            if self._table is None or self._table.candidates != tuple(candidates):
                self._table = VendorTable.build(candidates)
            self._snapshot = Snapshot(self._table, catalog_version)
            return self._snapshot

    def _unchanged_since(self, catalog_version: int) -> bool:
        """Whether the catalog is still at ``catalog_version`` (one small call, no profiles)."""
        with calling("catalog"):
            page = self._up.catalog.ListVendorProfiles(
                catalog_pb2.ListVendorProfilesRequest(
                    page_size=1, known_catalog_version=catalog_version
                )
            )
        return page.not_modified

    def _candidates(self) -> tuple[list[Candidate], int]:
        """Every vendor profile; each converted once while it stays the same (by its
        bytes), so an unchanged catalog also gives the very same objects."""
        known, self._known = self._known, {}
        candidates: list[Candidate] = []
        catalog_version = 0
        token = ""
        while True:
            with calling("catalog"):
                page = self._up.catalog.ListVendorProfiles(
                    catalog_pb2.ListVendorProfilesRequest(page_size=1000, page_token=token)
                )
            catalog_version = catalog_version or page.catalog_version
            for profile in page.vendor_profiles:
                key = profile.SerializeToString(deterministic=True)
                candidate = known.get(key) or _candidate(profile)
                self._known[key] = candidate
                candidates.append(candidate)
            token = page.next_page_token
            if not token:
                return candidates, catalog_version

    def build(
        self, client_id: str, snapshot: Snapshot | None = None
    ) -> matching_pb2.RecommendationSet | None:
        """One client from fresh inputs; None when it no longer exists."""
        built = self.build_many([client_id], snapshot)
        if client_id in built.failed:
            raise built.failed[client_id]
        return built.get(client_id)

    def build_many(
        self,
        client_ids: Sequence[str],
        snapshot: Snapshot | None = None,
        *,
        as_of: str = "",
        what_if: ownership_pb2.OwnershipEvent | None = None,
    ) -> Built:
        """Compute ``client_ids`` from fresh inputs (``snapshot``: a catalog read to share);
        ``as_of``: on that date instead of each policy's; ``what_if``: as if that event
        were recorded (nothing is written; the neutrality answers are not kept)."""
        started = time.perf_counter()
        built = Built()
        with tracer.start_as_current_span("dpm.matching.build") as span:
            span.set_attribute("dpm.clients", len(client_ids))
            snapshot = snapshot or self.snapshot()
            clients = self._clients(client_ids, built)
            by_policy: dict[tuple[bytes, str], list[requirements_pb2.Client]] = defaultdict(list)
            for client in clients:
                policy = client.neutrality_policy
                date = as_of or evaluation_date(policy)
                key = (policy.SerializeToString(deterministic=True), date)
                by_policy[key].append(client)
            span.set_attribute("dpm.policies", len(by_policy))
            for key, members in by_policy.items():
                try:
                    scores = self._score(key, members[0].neutrality_policy, snapshot, what_if)
                except Unavailable:
                    raise  # a dependency is down: the caller retries
                except DomainError as exc:
                    built.failed.update((ClientName.trusted(c.name).id, exc) for c in members)
                    continue
                with self._ranking:
                    self._rank(members, scores, snapshot, built)
        recommendation_computations.record(time.perf_counter() - started)
        return built

    def _rank(
        self,
        members: list[requirements_pb2.Client],
        scores: neutrality_pb2.ScoreVendorsResponse,
        snapshot: Snapshot,
        built: Built,
    ) -> None:
        """Rank clients that share one neutrality result. Clients that share their
        requirements too share the ranking (labs often start from one template),
        within the chunk and in the chunks after it while the result holds."""
        scored = self._scored(scores, snapshot.table)
        read: dict[bytes, Requirements] = {}
        for client in members:
            client_id = ClientName.trusted(client.name).id
            key = client.requirements.SerializeToString(deterministic=True)
            try:
                requirements = read.get(key) or convert.requirements_from_proto(client.requirements)
            except ValueError as exc:  # stored by a newer version of this code
                built.failed[client_id] = exc
                continue
            read[key] = requirements
            lists = scored.rankings.get(requirements)
            if lists is None:
                try:
                    ranked = rank_top(snapshot.table, requirements, scored.column, self._set_size)
                except Exception as exc:  # one client's bad case must not hold back the rest
                    log.exception("ranking for %s failed", client_id)
                    built.failed[client_id] = exc
                    continue
                lists = scored.keep(requirements, _Lists.of(ranked))
            built.encoded[client_id] = _encoded_set(
                client_id, client.revision, lists, scores, snapshot.catalog_version
            )

    def _scored(self, scores: neutrality_pb2.ScoreVendorsResponse, table: VendorTable) -> _Scored:
        """The scores as a column of ``table``, with the rankings made from it; chunk
        after chunk gets the same scores (the neutrality service memoises them per
        graph), converted once here."""
        # The etag names the answer (graph and request); an answer without one (an older
        # neutrality server) is named by its bytes.
        key = scores.etag.encode() or scores.SerializeToString(deterministic=True)
        found = self._columns.get(key)
        if found is None or found.column.table is not table:
            column = table.neutrality_column(convert.neutrality_from_proto(scores.vendors))
            found = self._columns[key] = _Scored(column)
            if len(self._columns) > COLUMNS_KEPT:
                self._columns.popitem(last=False)
        else:
            self._columns.move_to_end(key)
        return found

    def _clients(self, client_ids: Sequence[str], built: Built) -> list[requirements_pb2.Client]:
        clients: list[requirements_pb2.Client] = []
        for i in range(0, len(client_ids), BATCH_READ):
            names = [str(ClientName(c)) for c in client_ids[i : i + BATCH_READ]]
            with calling("requirements"):
                page = self._up.requirements.BatchGetClients(
                    requirements_pb2.BatchGetClientsRequest(names=names)
                )
            clients.extend(page.clients)
            built.gone.extend(ClientName.trusted(n).id for n in page.missing)
        return clients

    def _score(
        self,
        key: tuple[bytes, str],
        policy: requirements_pb2.NeutralityPolicy,
        snapshot: Snapshot,
        what_if: ownership_pb2.OwnershipEvent | None = None,
    ) -> neutrality_pb2.ScoreVendorsResponse:
        """The neutrality answer for ``policy`` on its date (``key``: policy bytes, date);
        with ``what_if``, as if that event were recorded (asked afresh, not kept)."""
        table = snapshot.table
        if what_if is not None:
            with relaying("neutrality", "event", "what_if"):
                return self._up.neutrality.ScorePolicy(
                    neutrality_pb2.ScorePolicyRequest(
                        policy=policy,
                        vendors=[str(c.name) for c in table.candidates],
                        as_of=key[1],
                        verdicts_only=True,
                        what_if=what_if,
                    )
                )
        with self._answers_lock:
            held = self._answers.get(key)
        request = neutrality_pb2.ScorePolicyRequest(
            policy=policy,
            vendors=[str(c.name) for c in table.candidates],
            as_of=key[1],
            verdicts_only=True,
        )
        if held is not None and held[0] is table:
            request.if_none_match = held[1].etag
        with calling("neutrality"):
            reply = self._up.neutrality.ScorePolicy(request)
            if reply.not_modified:
                if held is not None and reply.etag == held[1].etag:
                    with self._answers_lock:
                        self.answers_not_modified += 1
                    return held[1]
                request.ClearField("if_none_match")  # not the copy held: ask in full
                reply = self._up.neutrality.ScorePolicy(request)
        with self._answers_lock:
            self._answers[key] = (table, reply)
            self._answers.move_to_end(key)
            while len(self._answers) > COLUMNS_KEPT:
                self._answers.popitem(last=False)
        return reply


@dataclass
class _Scored:
    """One neutrality result as a column, and the rankings made from it so far."""

    column: NeutralityColumn
    rankings: dict[Requirements, _Lists] = field(default_factory=dict)

    def keep(self, requirements: Requirements, lists: _Lists) -> _Lists:
        if len(self.rankings) >= RANKINGS_KEPT:
            self.rankings.clear()  # requirements of one-off labs: start again
        self.rankings[requirements] = lists
        return lists


def _candidate(profile: catalog_pb2.VendorProfile) -> Candidate:
    org = VendorProfileName.trusted(profile.name).organization
    return Candidate(org, profile.display_name or str(org), convert.profile_from_proto(profile))


@dataclass(frozen=True)
class _Lists:
    """A ranking as the wire encodes it: serialized once for the clients sharing it."""

    data: bytes  # a RecommendationSet of only the ranked and excluded lists and totals

    @classmethod
    def of(cls, ranked: RankedSet) -> _Lists:
        lists = matching_pb2.RecommendationSet(
            ranked=[convert.ranked_to_proto(r) for r in ranked.ranked],
            excluded=[convert.excluded_to_proto(e) for e in ranked.excluded],
            ranked_total=ranked.ranked_total,
            excluded_total=ranked.excluded_total,
        )
        return cls(lists.SerializeToString())


def _encoded_set(
    client_id: str,
    revision: int,
    lists: _Lists,
    scores: neutrality_pb2.ScoreVendorsResponse,
    catalog_version: int,
) -> Encoded:
    """The client's set: its own fields, then the shared lists. Messages concatenate (a
    parser merges them), and the two parts have no field in common."""
    versions = matching_pb2.SourceVersions(
        graph_version=scores.graph_version,
        catalog_version=catalog_version,
        # The policy scored is the one read with this revision.
        requirements_revision=revision,
    )
    own = matching_pb2.RecommendationSet(
        name=str(RecommendationsName(client_id)),
        versions=versions,
        as_of=scores.as_of,
        unresolved_parties=scores.unresolved_parties,
    )
    own.compute_time.FromDatetime(dt.datetime.now(dt.UTC))
    return Encoded(client_id, versions, own.SerializeToString() + lists.data)


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
    snapshot: Snapshot | None = None,
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


def refresh_many(
    builder: RecommendationBuilder,
    cache: RecommendationCache,
    client_ids: Sequence[str],
    snapshot: Snapshot | None = None,
) -> Built:
    """Recompute ``client_ids`` and store each set unless something newer is stored.

    Sets go to Redis in one pipeline; a client gone has its set dropped; a
    conflict is recomputed alone from fresh reads (``refresh``). Returns what
    was computed (``failed``: the clients whose policy could not be scored).
    """
    built = builder.build_many(client_ids, snapshot)
    for client_id in built.gone:
        cache.delete(client_id)
    encoded = list(built.encoded.values())
    for item, result in zip(encoded, cache.put_many(encoded), strict=True):
        if result is PutResult.CONFLICT:
            log.info("concurrent recomputation for %s; recomputing", item.client_id)
            refresh(builder, cache, item.client_id)
    return built
