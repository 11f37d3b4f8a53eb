"""Every value of tests/data/ownership-vectors.json, through the gRPC API.

Each vector's holdings are recorded as ownership events through the real
catalog's RecordOwnershipEvent, each competitor gets a client (policy) in the
real requirements service, and every expected value is read back from
NeutralityService.ScoreVendors:

    integrated / integrated_float -> CompetitorExposure.look_through_equity
    integrated_votes              -> look_through_votes
    controls                      -> controls
    commanded_votes               -> directed_votes
    weakest_link                  -> weakest_link
    ofac_if_A_blocked             -> VendorNeutrality.restricted_parties
    ultimate_owner_column_sums    -> the look-through equity of the ultimate owners adds up to 1
    after_update_C>B_to_0.3       -> a later stake_changed event, read at both dates
    variant_if_voting_0.49        -> a second catalog entry with the voting stake
    neutrality_for_client_Google  -> score, verdict and figure of a client with that policy
    j_closed_cycle_error          -> the catalog refuses to record it; served by a stand-in
                                     catalog, only the vendors that depend on it get CAUTION

Not checked through the API: walk_sum_raw (an intermediate of the math, not a
reported figure: see test_ownership_math.py) and "verification" (how the
vectors were made).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from dpm.catalog.server import create_server as create_catalog
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.neutrality.server import create_server as create_neutrality
from dpm.neutrality.settings import NeutralitySettings
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth
from dpm.platform.grpc_client import open_channel
from dpm.platform.grpc_server import RunningServer
from dpm.requirements.server import create_server as create_requirements
from dpm.requirements.settings import RequirementsSettings
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc
from tests.conftest import DATA_DIR
from tests.inprocess import no_broker, wait_serving

pytestmark = pytest.mark.timeout(120)

VECTORS: dict[str, Any] = json.loads((DATA_DIR / "ownership-vectors.json").read_text())
TOL = VECTORS["tolerance"]
RECORDED = "2024-01-01"
AS_OF = "2025-01-01"
CAUTION = neutrality_pb2.VERDICT_CAUTION
CONFLICTED = neutrality_pb2.VERDICT_CONFLICTED
NEUTRAL = neutrality_pb2.VERDICT_NEUTRAL


def vector(vid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(v for v in VECTORS["vectors"] if v["id"] == vid)
    return found


def number(x: float | str) -> float:
    return float(Fraction(x)) if isinstance(x, str) else float(x)


def pairs(d: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return [(*key.split(">"), val) for key, val in d.items() if ">" in key]  # type: ignore[misc]


def slug(vid: str, node: str) -> str:
    """A vector's node as a catalog id of its own ("a_chain_60_50", "B" -> "a-chain-60-50-b")."""
    return f"{vid.replace('_', '-')}-{node.lower()}"


def org(ident: str) -> str:
    return f"organizations/{ident}"


@dataclass
class Api:
    secret: str
    catalog: catalog_pb2_grpc.CatalogServiceStub
    requirements: requirements_pb2_grpc.RequirementsServiceStub
    neutrality: neutrality_pb2_grpc.NeutralityServiceStub
    requirements_address: str

    def client(
        self,
        ident: str,
        competitors: list[str],
        equity: float = 1.0,
        voting: float = 1.0,
        **policy: Any,
    ) -> str:
        """Create (or replace) client ``ident`` with that policy; its name."""
        name = f"clients/{ident}"
        message = requirements_pb2.Client(
            display_name=ident,
            neutrality_policy=requirements_pb2.NeutralityPolicy(
                competitors=[org(c) for c in competitors],
                max_competitor_equity=equity,
                max_competitor_voting=voting,
                **policy,
            ),
        )
        try:
            self.requirements.CreateClient(
                requirements_pb2.CreateClientRequest(client_id=ident, client=message)
            )
        except grpc.RpcError as exc:
            if exc.code() is not grpc.StatusCode.ALREADY_EXISTS:
                raise
            message.name = name
            self.requirements.UpdateClient(requirements_pb2.UpdateClientRequest(client=message))
        return name

    def score(
        self, client: str, vendors: list[str], as_of: str = AS_OF
    ) -> dict[str, neutrality_pb2.VendorNeutrality]:
        reply = self.neutrality.ScoreVendors(
            neutrality_pb2.ScoreVendorsRequest(
                client=client, vendors=[org(v) for v in vendors], as_of=as_of
            )
        )
        assert reply.as_of == as_of
        return {v.vendor.removeprefix("organizations/"): v for v in reply.vendors}

    def organization(self, ident: str) -> None:
        self.catalog.CreateOrganization(
            catalog_pb2.CreateOrganizationRequest(
                organization_id=ident,
                organization=catalog_pb2.Organization(
                    display_name=ident, kind=catalog_pb2.ORGANIZATION_KIND_VENDOR
                ),
            )
        )

    def stake(
        self,
        event_id: str,
        holder: str,
        held: str,
        equity: float | None,
        votes: float | None = None,
        date: str = RECORDED,
        kind: str = "stake_acquired",
        **extra: Any,
    ) -> ownership_pb2.OwnershipEvent:
        event = ownership_pb2.OwnershipEvent(event_id=event_id, effective_date=date, **extra)
        change = getattr(event, kind)
        change.holder, change.held = org(holder), org(held)
        if equity is not None:
            change.equity_fraction = equity
        if votes is not None:
            change.voting_fraction = votes
        return self.catalog.RecordOwnershipEvent(
            catalog_pb2.RecordOwnershipEventRequest(event=event)
        )

    def record_vector(self, vid: str, v: dict[str, Any]) -> None:
        for node in v["nodes"]:
            self.organization(slug(vid, node))
        for e in v["edges"]:
            self.stake(
                f"{vid}:{e['holder']}-{e['held']}",
                slug(vid, e["holder"]),
                slug(vid, e["held"]),
                e["equity"],
                e.get("votes"),
            )


def exposure(
    scored: neutrality_pb2.VendorNeutrality, competitor: str
) -> neutrality_pb2.CompetitorExposure | None:
    return next((e for e in scored.exposures if e.competitor == org(competitor)), None)


def figure(found: neutrality_pb2.CompetitorExposure | None, name: str) -> float:
    """A figure's value, checked to be exact (no ranges in the vectors); 0 without exposure."""
    if found is None:
        return 0.0
    f = getattr(found, name)
    assert f.lower == pytest.approx(f.value, abs=TOL) and f.upper == pytest.approx(f.value, abs=TOL)
    return float(f.value)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, token_secret: str) -> Iterator[Api]:
    tmp: Path = tmp_path_factory.mktemp("vectors")
    admin = auth.admin_token(token_secret)
    common: dict[str, Any] = {"token_secret": token_secret, "host": "127.0.0.1", "port": 0}
    servers: list[RunningServer] = []
    channels: list[grpc.Channel] = []
    try:
        catalog = create_catalog(
            CatalogSettings(database_url=f"sqlite:///{tmp / 'catalog.db'}", data_dir=tmp, **common),
            publisher=no_broker,
        )
        servers.append(catalog)
        requirements = create_requirements(
            RequirementsSettings(
                database_url=f"sqlite:///{tmp / 'requirements.db'}", data_dir=tmp, **common
            ),
            publisher=no_broker,
        )
        servers.append(requirements)
        neutrality = create_neutrality(
            NeutralitySettings(
                catalog_addr=f"127.0.0.1:{catalog.port}",
                requirements_addr=f"127.0.0.1:{requirements.port}",
                **common,
            )
        )
        servers.append(neutrality)
        for port in (catalog.port, requirements.port, neutrality.port):
            channels.append(open_channel(f"127.0.0.1:{port}", admin, 10))
        wait_serving(f"127.0.0.1:{neutrality.port}", "dpm.neutrality.v1.NeutralityService")
        found = Api(
            token_secret,
            catalog_pb2_grpc.CatalogServiceStub(channels[0]),
            requirements_pb2_grpc.RequirementsServiceStub(channels[1]),
            neutrality_pb2_grpc.NeutralityServiceStub(channels[2]),
            f"127.0.0.1:{requirements.port}",
        )
        for v in VECTORS["vectors"]:
            if "error" not in v["expected"]:
                found.record_vector(v["id"], v)
        yield found
    finally:
        for channel in channels:
            channel.close()
        for server in reversed(servers):
            server.stop(0)


NUMERIC = [v["id"] for v in VECTORS["vectors"] if "error" not in v["expected"]]


@pytest.mark.parametrize("vid", NUMERIC)
def test_figures_match_the_vector(api: Api, vid: str) -> None:
    v = vector(vid)
    expected = v["expected"]
    fields = {
        "integrated": "look_through_equity",
        "integrated_float": "look_through_equity",
        "integrated_votes": "look_through_votes",
        "commanded_votes": "directed_votes",
        "weakest_link": "weakest_link",
    }
    checked = 0
    for key, name in fields.items():
        for holder, held, want in pairs(expected.get(key, {})):
            client = api.client(slug(vid, f"client-{holder}"), [slug(vid, holder)])
            scored = api.score(client, [slug(vid, held)])[slug(vid, held)]
            got = figure(exposure(scored, slug(vid, holder)), name)
            assert got == pytest.approx(number(want), abs=TOL), (key, holder, held)
            checked += 1
    for holder, held, want in pairs(expected.get("controls", {})):
        client = api.client(slug(vid, f"client-{holder}"), [slug(vid, holder)])
        scored = api.score(client, [slug(vid, held)])[slug(vid, held)]
        found = exposure(scored, slug(vid, holder))
        assert (found is not None and found.controls) is want, (holder, held)
        if want:
            assert found is not None
            path = list(found.control_path)
            assert (path[0], path[-1]) == (org(slug(vid, holder)), org(slug(vid, held)))
        checked += 1
    assert checked


def test_chain_equity_is_the_product_along_the_chain(api: Api) -> None:
    vid = "a_chain_60_50"
    client = api.client(slug(vid, "client-a"), [slug(vid, "A")])
    scored = api.score(client, [slug(vid, "C")])[slug(vid, "C")]
    found = exposure(scored, slug(vid, "A"))
    assert found is not None
    (chain,) = found.top_chains
    assert list(chain.organizations) == [org(slug(vid, n)) for n in "ABC"]
    assert chain.equity == pytest.approx(0.6 * 0.5)
    assert chain.weakest_link == pytest.approx(0.5)
    assert [link.equity.value for link in chain.links] == pytest.approx([0.6, 0.5])
    a, b, c = (slug(vid, n) for n in "ABC")
    assert scored.reasons[:2] == [
        f"{a}'s look-through equity in {c} is 30% ({a} → {b} → {c}), within the 100% equity limit",
        f"{a} controls {b} (60% of its votes), which holds 50% of {c}'s votes: {a} directs 50% "
        f"of {c}'s votes, within the 100% voting limit",
    ]


def test_ofac_aggregate_blocked_share(api: Api) -> None:
    for vid in (v["id"] for v in VECTORS["vectors"] if "ofac_if_A_blocked" in v["expected"]):
        v = vector(vid)
        spec = v["expected"]["ofac_if_A_blocked"]
        client = api.client(slug(vid, "client-ofac"), [], restricted_parties=[org(slug(vid, "A"))])
        scored = api.score(client, [slug(vid, n) for n in v["nodes"]])
        for node in v["nodes"]:
            finding = scored[slug(vid, node)].restricted_parties
            blocked = finding.blocked or finding.named
            assert blocked is (node in spec["blocked"]), (vid, node)
            if blocked:
                assert scored[slug(vid, node)].verdict == CONFLICTED
        c = scored[slug(vid, "C")].restricted_parties.aggregate_blocked_share
        assert c.value == pytest.approx(spec["aggregate_blocked_share_C"], abs=TOL), vid
        assert "OFAC 50 Percent Rule" in scored[slug(vid, "C")].reasons[0]


def test_ultimate_owners_account_for_the_whole_company(api: Api) -> None:
    vid = "c_cross_holding"
    sums = vector(vid)["expected"]["ultimate_owner_column_sums"]
    owners = [slug(vid, o) for o in ("A", "FB", "FC")]
    client = api.client(slug(vid, "client-owners"), owners)
    scored = api.score(client, [slug(vid, held) for held in sums])
    for held, total in sums.items():
        figures = [
            figure(exposure(scored[slug(vid, held)], o), "look_through_equity") for o in owners
        ]
        assert sum(figures) == pytest.approx(total, abs=TOL)


def test_after_update_is_read_at_each_date(api: Api) -> None:
    vid = "c_cross_holding"
    v = vector(vid)
    update = v["expected"]["after_update_C>B_to_0.3"]
    # The vector's update alone would have B's holders own 110% of it (0.6 + 0.3 + 0.2),
    # which the ledger refuses; FB's stake (which no figure of A's depends on) shrinks first.
    api.stake(
        f"{vid}:FB-B:0.1",
        slug(vid, "FB"),
        slug(vid, "B"),
        0.1,
        date="2025-06-01",
        kind="stake_changed",
    )
    api.stake(
        f"{vid}:C-B:0.3",
        slug(vid, "C"),
        slug(vid, "B"),
        0.3,
        date="2025-06-01",
        kind="stake_changed",
    )
    client = api.client(slug(vid, "client-a"), [slug(vid, "A")])
    later = api.score(client, [slug(vid, "B"), slug(vid, "C")], as_of="2025-07-01")
    earlier = api.score(client, [slug(vid, "B"), slug(vid, "C")], as_of=AS_OF)
    for held in ("B", "C"):
        got = figure(exposure(later[slug(vid, held)], slug(vid, "A")), "look_through_equity")
        assert got == pytest.approx(number(update[f"A>{held}"]), abs=TOL)
        before = figure(exposure(earlier[slug(vid, held)], slug(vid, "A")), "look_through_equity")
        assert before == pytest.approx(number(v["expected"]["integrated"][f"A>{held}"]), abs=TOL)


def test_meta_scale_variant_with_a_voting_stake(api: Api) -> None:
    vid = "d_variant"
    variant = vector("d_meta_scale")["expected"]["variant_if_voting_0.49"]
    for node in ("Meta", "ScaleAI", "ScaleSub"):
        api.organization(slug(vid, node))
    api.stake(f"{vid}:1", slug(vid, "Meta"), slug(vid, "ScaleAI"), 0.49, 0.49)
    api.stake(f"{vid}:2", slug(vid, "ScaleAI"), slug(vid, "ScaleSub"), 1.0, 1.0)
    client = api.client(slug(vid, "client"), [slug(vid, "Meta")])
    scored = api.score(client, [slug(vid, "ScaleAI"), slug(vid, "ScaleSub")])
    meta = slug(vid, "Meta")
    scale = exposure(scored[slug(vid, "ScaleAI")], meta)
    assert figure(scale, "directed_votes") == pytest.approx(
        variant["commanded_votes_Meta>ScaleAI"], abs=TOL
    )
    assert scale is not None and scale.controls is variant["controls"]
    sub = exposure(scored[slug(vid, "ScaleSub")], meta)
    assert figure(sub, "directed_votes") == pytest.approx(
        variant["commanded_votes_Meta>ScaleSub"], abs=TOL
    )
    # Without a majority, Meta's votes give it voting power: the other holders are unknown
    # (the float), so no coalition of theirs is turned into a winning one.
    assert scale.HasField("voting_power")
    assert scale.voting_power.banzhaf_index.value == 0.0
    assert scale.voting_power.other_holders == 0


def test_meta_scale_neutrality_for_google(api: Api) -> None:
    vid = "d_meta_scale"
    spec = vector(vid)["expected"]["neutrality_for_client_Google"]
    client = api.client(
        slug(vid, "google"),
        [slug(vid, c) for c in spec["competitors"]],
        spec["policy"]["max_equity"],
        spec["policy"]["max_votes"],
    )
    scored = api.score(client, [slug(vid, "ScaleAI"), slug(vid, "ScaleSub")])
    meta = slug(vid, "Meta")
    for vendor in ("ScaleAI", "ScaleSub"):
        result = scored[slug(vid, vendor)]
        assert result.score == spec["score_0_100"]
        assert result.verdict == neutrality_pb2.Verdict.Value(f"VERDICT_{spec['verdict']}")
        found = exposure(result, meta)
        assert figure(found, "look_through_equity") == pytest.approx(spec["exposure"], abs=TOL)
        assert figure(found, "directed_votes") == 0.0
        assert found is not None and found.wedge == 0.0  # a non-voting stake
        assert f"{meta}'s look-through equity in {slug(vid, vendor)} is 49%" in result.reasons[0]


def test_catalog_refuses_to_record_a_closed_cycle(api: Api) -> None:
    vid = "j_closed_cycle_error"
    v = vector(vid)
    for node in v["nodes"]:
        api.organization(slug(vid, node))
    first, second = v["edges"]
    api.stake(f"{vid}:1", slug(vid, first["holder"]), slug(vid, first["held"]), first["equity"])
    with pytest.raises(grpc.RpcError) as refused:
        api.stake(
            f"{vid}:2", slug(vid, second["holder"]), slug(vid, second["held"]), second["equity"]
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "closed ownership cycle" in (refused.value.details() or "")


# ---- a closed cycle that reaches neutrality anyway: served by a stand-in catalog -------


class StandInCatalog(catalog_pb2_grpc.CatalogServiceServicer):
    """Serves one fixed ownership graph, whatever the as_of (the real catalog refuses
    closed equity cycles, so this is how one reaches neutrality in a test)."""

    def __init__(self, graph: ownership_pb2.OwnershipGraph) -> None:
        self.graph = graph
        self.reads = 0  # whole graphs sent (not-modified answers not counted)
        self.slowness = 0.0  # seconds each whole graph takes to send

    def ExportOwnershipGraph(
        self, request: catalog_pb2.ExportOwnershipGraphRequest, context: grpc.ServicerContext
    ) -> ownership_pb2.OwnershipGraph:
        if not request.as_of:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "as_of is required")
        if request.if_none_match == self.graph.etag:
            return ownership_pb2.OwnershipGraph(
                version=self.graph.version,
                as_of=request.as_of,
                etag=self.graph.etag,
                not_modified=True,
            )
        self.reads += 1
        reply = ownership_pb2.OwnershipGraph()
        reply.CopyFrom(self.graph)  # the graph as it is when the read starts
        reply.as_of = request.as_of
        time.sleep(self.slowness)
        return reply

    def StreamOwnershipGraph(
        self, request: catalog_pb2.ExportOwnershipGraphRequest, context: grpc.ServicerContext
    ) -> Iterator[ownership_pb2.OwnershipGraph]:
        yield self.ExportOwnershipGraph(request, context)  # one part: a small graph

    def ListVendorProfiles(
        self, request: catalog_pb2.ListVendorProfilesRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListVendorProfilesResponse:
        return catalog_pb2.ListVendorProfilesResponse(
            vendor_profiles=[
                catalog_pb2.VendorProfile(name=f"{o}/vendorProfile")
                for o in self.graph.organizations
            ]
        )


@pytest.fixture
def stand_in(api: Api, token_secret: str) -> Iterator[tuple[StandInCatalog, Api]]:
    catalog = StandInCatalog(ownership_pb2.OwnershipGraph(version=1, etag="v1"))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(catalog, server)
    health_servicer = health.HealthServicer()
    for service in ("", "dpm.catalog.v1.CatalogService"):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    neutrality = create_neutrality(
        NeutralitySettings(
            token_secret=token_secret,
            host="127.0.0.1",
            port=0,
            catalog_addr=f"127.0.0.1:{port}",
            requirements_addr=api.requirements_address,
        )
    )
    channel = open_channel(f"127.0.0.1:{neutrality.port}", auth.admin_token(token_secret), 10)
    try:
        wait_serving(f"127.0.0.1:{neutrality.port}", "dpm.neutrality.v1.NeutralityService")
        yield (
            catalog,
            Api(
                api.secret,
                api.catalog,
                api.requirements,
                neutrality_pb2_grpc.NeutralityServiceStub(channel),
                api.requirements_address,
            ),
        )
    finally:
        channel.close()
        neutrality.stop(0)
        server.stop(0)


def holding(
    holder: str, held: str, equity: float, votes: float | None = None
) -> ownership_pb2.Holding:
    found = ownership_pb2.Holding(holder=org(holder), held=org(held), equity_fraction=equity)
    if votes is not None:
        found.voting_fraction = votes
    return found


def test_closed_cycle_degrades_only_the_vendors_that_depend_on_it(
    stand_in: tuple[StandInCatalog, Api],
) -> None:
    catalog, api = stand_in
    v = vector("j_closed_cycle_error")
    # The vector's cycle a <-> b (all equity, no outside owner), what b holds, and an
    # unrelated competitor stake; plus a vote-only closed cycle x <-> y (issue 6, item 3).
    graph = ownership_pb2.OwnershipGraph(
        version=7,
        etag="closed-v7",
        organizations=[org(n) for n in ("a", "b", "dep", "meta", "free", "x", "y", "dep2")],
        holdings=[
            *(holding(e["holder"].lower(), e["held"].lower(), e["equity"]) for e in v["edges"]),
            holding("b", "dep", 0.3),
            holding("meta", "free", 0.4),
            holding("x", "y", 0.5, 1.0),
            holding("y", "x", 0.5, 1.0),
            holding("y", "dep2", 0.2),
        ],
    )
    catalog.graph = graph
    client = api.client("closed-cycle-lab", ["meta"], 0.25, 0.25)
    scored = api.score(client, ["a", "b", "dep", "free", "x", "y", "dep2", "meta"])
    for vendor, members in (
        ("a", "a, b"),
        ("b", "a, b"),
        ("dep", "a, b"),
        ("x", "x, y"),
        ("y", "x, y"),
        ("dep2", "x, y"),
    ):
        result = scored[vendor]
        assert result.verdict == CAUTION, (vendor, result.reasons)
        assert any(f"closed ownership cycle among {members}" in r for r in result.reasons)
        (problem,) = result.graph_problems
        assert ", ".join(o.removeprefix("organizations/") for o in problem.organizations) == members
    assert "all of its equity and votes held inside" in scored["dep"].reasons[0]
    assert "all of its votes held inside" in scored["dep2"].reasons[0]
    # Everyone else is scored normally.
    free = scored["free"]
    assert free.verdict == CONFLICTED and not free.graph_problems
    assert figure(exposure(free, "meta"), "look_through_equity") == pytest.approx(0.4)
    assert scored["meta"].verdict == CONFLICTED  # the competitor itself
    # Scoring every vendor (no list) works too.
    reply = api.neutrality.ScoreVendors(
        neutrality_pb2.ScoreVendorsRequest(client=client, as_of=AS_OF)
    )
    assert len(reply.vendors) == len(graph.organizations)


def test_ranges_and_provenance_reach_the_explanation(stand_in: tuple[StandInCatalog, Api]) -> None:
    catalog, api = stand_in
    ranged = ownership_pb2.Holding(holder=org("meta"), held=org("v"), voting_fraction=0.0)
    ranged.equity_range.minimum, ranged.equity_range.maximum = 0.25, 0.5
    ranged.source_url = "https://register.example/v"
    ranged.provenance.source_type = ownership_pb2.SOURCE_TYPE_OFFICIAL_REGISTER
    ranged.provenance.asserted_by = "Companies House"
    ranged.provenance.statement_date = "2024-05-01"
    hidden = ownership_pb2.Holding(holder=org("amazon"), held=org("v"))
    catalog.graph = ownership_pb2.OwnershipGraph(
        version=8,
        etag="ranges-v8",
        organizations=[org(n) for n in ("meta", "amazon", "v")],
        holdings=[ranged, hidden],
    )
    upper = api.client("ranges-lab", ["meta", "amazon"], 0.3, 0.25)
    (result,) = api.score(upper, ["v"]).values()
    meta = exposure(result, "meta")
    assert meta is not None
    equity = meta.look_through_equity
    assert (equity.value, equity.lower, equity.upper) == pytest.approx((0.5, 0.25, 0.5))
    assert result.verdict == CONFLICTED
    assert result.reasons[0] == (
        "meta's look-through equity in v is between 25% and 50% (meta → v), above the 30% "
        "equity limit at its upper bound"
    )
    assert (
        "meta holds between 25% and 50% of the equity of v and none of its votes (source: "
        "https://register.example/v; official register, asserted by Companies House, "
        "2024-05-01)"
    ) in result.reasons
    (link,) = meta.top_chains[0].links
    assert link.provenance.asserted_by == "Companies House"
    assert link.source_url == "https://register.example/v"
    amazon = exposure(result, "amazon")
    assert amazon is not None and amazon.undisclosed_stake
    assert amazon.look_through_equity.upper == pytest.approx(0.75)  # what meta's 25% leaves
    assert result.unknown_ownership.upper == pytest.approx(0.75)
    assert result.unknown_ownership.lower == pytest.approx(0.0)
    lower = api.client(
        "ranges-lab-lower",
        ["meta"],
        0.3,
        0.25,
        decisive_bound=requirements_pb2.RANGE_BOUND_LOWER,
    )
    (result,) = api.score(lower, ["v"]).values()
    assert result.verdict == CAUTION
    assert exposure(result, "meta").look_through_equity.value == pytest.approx(0.25)  # type: ignore[union-attr]


def test_ranges_recorded_through_the_catalog(api: Api) -> None:
    """A stake known only as a range, recorded through the real catalog (BODS-style)."""
    for ident in ("range-meta", "range-v"):
        api.organization(ident)
    event = ownership_pb2.OwnershipEvent(
        event_id="range-meta-v",
        effective_date=RECORDED,
        source_url="https://register.example/range-v",
    )
    event.stake_acquired.holder, event.stake_acquired.held = org("range-meta"), org("range-v")
    event.stake_acquired.equity_range.minimum = 0.25
    event.stake_acquired.equity_range.maximum = 0.5
    event.stake_acquired.equity_range.exclusive_minimum = True
    try:
        api.catalog.RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=event))
    except grpc.RpcError as exc:
        pytest.skip(f"the catalog does not record share ranges yet: {exc.details()}")
    graph = api.catalog.ExportOwnershipGraph(catalog_pb2.ExportOwnershipGraphRequest(as_of=AS_OF))
    if not any(h.HasField("equity_range") for h in graph.holdings if h.held == org("range-v")):
        pytest.skip("the catalog does not export share ranges yet")
    client = api.client("range-lab", ["range-meta"], 0.3, 1.0)
    (result,) = api.score(client, ["range-v"]).values()
    found = exposure(result, "range-meta")
    assert found is not None
    assert found.look_through_equity.lower == pytest.approx(0.25, abs=1e-8)
    assert found.look_through_equity.upper == pytest.approx(0.5)
    assert result.verdict == CONFLICTED
    assert any(
        "range-meta holds more than 25% and at most 50% of the equity" in r for r in result.reasons
    )


def test_a_graph_read_longer_than_a_calls_deadline_goes_on_for_the_calls_after_it(
    stand_in: tuple[StandInCatalog, Api],
) -> None:
    """A whole register takes about a minute to read: a caller's deadline must not
    cancel the read (every later call would start it again and none would finish)."""
    catalog, api = stand_in
    catalog.graph = ownership_pb2.OwnershipGraph(
        version=3,
        etag="slow-v3",
        organizations=[org(n) for n in ("meta", "vendor")],
        holdings=[holding("meta", "vendor", 0.4)],
    )
    catalog.slowness = 1.5
    reads = catalog.reads
    request = neutrality_pb2.ScorePolicyRequest(
        policy=requirements_pb2.NeutralityPolicy(
            competitors=[org("meta")], max_competitor_equity=0.25
        ),
        vendors=[org("vendor")],
        as_of="2030-01-01",
    )
    with pytest.raises(grpc.RpcError) as err:
        api.neutrality.ScorePolicy(request, timeout=0.5)
    assert err.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    started = time.monotonic()
    (scored,) = api.neutrality.ScorePolicy(request, timeout=5).vendors
    assert scored.verdict == CONFLICTED
    # The read the first call started was joined, not started again: done within it.
    assert time.monotonic() - started < 1.4
    assert catalog.reads == reads + 1


def test_a_call_never_gets_a_graph_read_before_it_arrived(
    stand_in: tuple[StandInCatalog, Api],
) -> None:
    """A call that finds a read in progress, started before an event it may be about,
    waits for it and reads again: it never gets the graph from before it arrived."""
    catalog, api = stand_in
    graph = ownership_pb2.OwnershipGraph(
        version=5,
        etag="v5",
        organizations=[org(n) for n in ("meta", "vendor")],
        holdings=[holding("meta", "vendor", 0.1)],
    )
    catalog.graph, catalog.slowness = graph, 1.0
    request = neutrality_pb2.ScorePolicyRequest(
        policy=requirements_pb2.NeutralityPolicy(
            competitors=[org("meta")], max_competitor_equity=0.25
        ),
        vendors=[org("vendor")],
        as_of="2031-01-01",
    )
    with futures.ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(api.neutrality.ScorePolicy, request, timeout=10)
        time.sleep(0.3)  # the first call's read is under way, with version 5
        changed = ownership_pb2.OwnershipGraph()
        changed.CopyFrom(graph)
        changed.version, changed.etag = 6, "v6"
        changed.holdings[0].equity_fraction = 0.4
        catalog.graph = changed
        second = api.neutrality.ScorePolicy(request, timeout=10)
        assert first.result().graph_version == 5
    assert second.graph_version == 6
    assert second.vendors[0].verdict == CONFLICTED
