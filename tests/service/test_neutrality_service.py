"""NeutralityService over real gRPC, with the real catalog and requirements servers in-process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dpm.catalog.server import create_server as create_catalog
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.common.v1 import common_pb2
from dpm.neutrality.graph_cache import GraphCache
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
from tests.conftest import field_violations
from tests.inprocess import wait_serving

pytestmark = pytest.mark.timeout(90)

CONFLICTED = neutrality_pb2.VERDICT_CONFLICTED
NEUTRAL = neutrality_pb2.VERDICT_NEUTRAL


class Published:
    """Records what the outbox relays publish (no broker in these tests)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, task: str, queue: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((task, queue, kwargs))


@dataclass
class Stack:
    secret: str
    neutrality_address: str
    catalog: catalog_pb2_grpc.CatalogServiceStub
    requirements: requirements_pb2_grpc.RequirementsServiceStub
    stake_version: int

    def scorer(self, token: str) -> tuple[grpc.Channel, neutrality_pb2_grpc.NeutralityServiceStub]:
        channel = open_channel(self.neutrality_address, token, 10)
        return channel, neutrality_pb2_grpc.NeutralityServiceStub(channel)


def org(slug: str) -> str:
    return f"organizations/{slug}"


def seed(catalog: catalog_pb2_grpc.CatalogServiceStub) -> int:
    for slug, kind in [
        ("meta", catalog_pb2.ORGANIZATION_KIND_LAB),
        ("google", catalog_pb2.ORGANIZATION_KIND_LAB),
        ("microsoft", catalog_pb2.ORGANIZATION_KIND_LAB),
        ("scale-ai", catalog_pb2.ORGANIZATION_KIND_VENDOR),
        ("scale-sub", catalog_pb2.ORGANIZATION_KIND_VENDOR),
        ("labelbox", catalog_pb2.ORGANIZATION_KIND_VENDOR),
    ]:
        catalog.CreateOrganization(
            catalog_pb2.CreateOrganizationRequest(
                organization_id=slug,
                organization=catalog_pb2.Organization(display_name=slug.title(), kind=kind),
            )
        )
    for slug in ("scale-ai", "scale-sub", "labelbox"):
        catalog.UpdateVendorProfile(
            catalog_pb2.UpdateVendorProfileRequest(
                vendor_profile=catalog_pb2.VendorProfile(
                    name=f"{org(slug)}/vendorProfile",
                    service_model=catalog_pb2.SERVICE_MODEL_HYBRID,
                    capabilities=[
                        catalog_pb2.Capability(
                            modality=common_pb2.MODALITY_RLHF,
                            monthly_capacity=100_000,
                            quality=0.9,
                            unit_price_usd=4.0,
                        )
                    ],
                ),
                allow_missing=True,
            )
        )
    sub = ownership_pb2.OwnershipEvent(event_id="scale-buys-sub", effective_date="2020-01-01")
    sub.full_acquisition.acquirer, sub.full_acquisition.target = org("scale-ai"), org("scale-sub")
    catalog.RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=sub))
    stake = ownership_pb2.OwnershipEvent(
        event_id="meta-scale-49",
        effective_date="2025-06-13",
        summary="Meta acquires 49% of Scale AI, non-voting",
        source_url="https://example.com/meta-scale",
    )
    stake.stake_acquired.holder, stake.stake_acquired.held = org("meta"), org("scale-ai")
    stake.stake_acquired.equity_fraction = 0.49
    stake.stake_acquired.voting_fraction = 0.0
    recorded = catalog.RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=stake))
    return int(recorded.graph_version)


def client(slug: str, *competitors: str) -> requirements_pb2.CreateClientRequest:
    return requirements_pb2.CreateClientRequest(
        client_id=slug,
        client=requirements_pb2.Client(
            display_name=slug.title(),
            organization=org(slug),
            requirements=requirements_pb2.Requirements(
                needs=[requirements_pb2.Need(modality=common_pb2.MODALITY_RLHF, monthly_volume=1)]
            ),
            neutrality_policy=requirements_pb2.NeutralityPolicy(
                competitors=[org(c) for c in competitors],
                max_competitor_equity=0.25,
                max_competitor_voting=0.25,
            ),
        ),
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, token_secret: str) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("neutrality")
    admin = auth.admin_token(token_secret)
    common: dict[str, Any] = {"token_secret": token_secret, "host": "127.0.0.1", "port": 0}
    servers: list[RunningServer] = []
    channels: list[grpc.Channel] = []
    try:
        catalog = create_catalog(
            CatalogSettings(database_url=f"sqlite:///{tmp / 'catalog.db'}", data_dir=tmp, **common),
            publisher=Published(),
        )
        servers.append(catalog)
        requirements = create_requirements(
            RequirementsSettings(
                database_url=f"sqlite:///{tmp / 'requirements.db'}", data_dir=tmp, **common
            ),
            publisher=Published(),
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
        catalog_channel = open_channel(f"127.0.0.1:{catalog.port}", admin, 10)
        requirements_channel = open_channel(f"127.0.0.1:{requirements.port}", admin, 10)
        channels += [catalog_channel, requirements_channel]
        catalog_stub = catalog_pb2_grpc.CatalogServiceStub(catalog_channel)
        requirements_stub = requirements_pb2_grpc.RequirementsServiceStub(requirements_channel)
        requirements_stub.CreateClient(client("google", "meta"))
        requirements_stub.CreateClient(client("microsoft", "google"))
        version = seed(catalog_stub)
        address = f"127.0.0.1:{neutrality.port}"
        wait_serving(address, "dpm.neutrality.v1.NeutralityService")
        yield Stack(token_secret, address, catalog_stub, requirements_stub, version)
    finally:
        for channel in channels:
            channel.close()
        for server in reversed(servers):
            server.stop(0)


def score(
    stack: Stack, token: str, request: neutrality_pb2.ScoreVendorsRequest
) -> neutrality_pb2.ScoreVendorsResponse:
    channel, stub = stack.scorer(token)
    with channel:
        return stub.ScoreVendors(request)


def error_of(
    stack: Stack, token: str, request: neutrality_pb2.ScoreVendorsRequest
) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        score(stack, token, request)
    return info.value


def google_token(stack: Stack) -> str:
    return auth.client_token(stack.secret, "clients/google")


def test_meta_stake_conflicts_scale_and_its_subsidiary(stack: Stack) -> None:
    reply = score(
        stack,
        google_token(stack),
        neutrality_pb2.ScoreVendorsRequest(client="clients/google", as_of="2025-07-01"),
    )
    by_vendor = {v.vendor: v for v in reply.vendors}
    assert set(by_vendor) == {org("scale-ai"), org("scale-sub"), org("labelbox")}
    assert reply.graph_version == stack.stake_version
    assert reply.requirements_revision >= 1
    assert reply.as_of == "2025-07-01"
    for vendor in ("scale-ai", "scale-sub"):
        result = by_vendor[org(vendor)]
        assert result.verdict == CONFLICTED, result
        assert result.score == 51
        assert any("meta" in r and "49%" in r for r in result.reasons), result.reasons
        (exposure,) = result.exposures
        assert exposure.competitor == org("meta")
        assert exposure.look_through_equity.value == pytest.approx(0.49)
        assert exposure.look_through_equity.lower == exposure.look_through_equity.upper
        assert exposure.look_through_votes.value == 0.0
        assert exposure.directed_votes.value == 0.0
        assert exposure.wedge == 0.0
        assert not exposure.controls
        assert not exposure.HasField("voting_power")  # no votes, no voting power
        assert exposure.top_chains[0].organizations[0] == org("meta")
        assert exposure.top_chains[0].organizations[-1] == org(vendor)
        assert result.reasons[0].startswith(f"meta's look-through equity in {vendor} is 49%")
        assert (
            "meta holds 49% of the equity of scale-ai and none of its votes "
            "(source: https://example.com/meta-scale)"
        ) in result.reasons
    sub_chain = by_vendor[org("scale-sub")].exposures[0].top_chains[0]
    assert list(sub_chain.organizations) == [org("meta"), org("scale-ai"), org("scale-sub")]
    assert sub_chain.equity == pytest.approx(0.49)
    assert [link.source_url for link in sub_chain.links] == ["https://example.com/meta-scale", ""]
    # Nobody but Meta's 49% is recorded as a holder of Scale AI.
    unknown = by_vendor[org("scale-ai")].unknown_ownership
    assert (unknown.value, unknown.lower, unknown.upper) == pytest.approx((0.51, 0.51, 0.51))
    labelbox = by_vendor[org("labelbox")]
    assert labelbox.verdict == NEUTRAL
    assert labelbox.score == 100
    assert not labelbox.exposures


def test_named_vendors_and_dates_before_the_stake(stack: Stack) -> None:
    reply = score(
        stack,
        google_token(stack),
        neutrality_pb2.ScoreVendorsRequest(
            client="clients/google", vendors=[org("scale-sub")], as_of="2025-01-01"
        ),
    )
    (only,) = reply.vendors
    assert only.vendor == org("scale-sub")
    assert only.verdict == NEUTRAL
    assert reply.as_of == "2025-01-01"


def test_lab_may_score_only_for_itself(stack: Stack) -> None:
    err = error_of(
        stack,
        google_token(stack),
        neutrality_pb2.ScoreVendorsRequest(client="clients/microsoft", as_of="2025-07-01"),
    )
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    # The admin may score for anyone.
    admin = auth.admin_token(stack.secret)
    reply = score(
        stack,
        admin,
        neutrality_pb2.ScoreVendorsRequest(client="clients/microsoft", as_of="2025-07-01"),
    )
    assert {v.verdict for v in reply.vendors} == {NEUTRAL}


def test_bad_requests_name_the_field(stack: Stack) -> None:
    token = google_token(stack)
    err = error_of(
        stack,
        token,
        neutrality_pb2.ScoreVendorsRequest(
            client="clients/google", vendors=[org("scale-ai"), org("nobody")], as_of="2025-07-01"
        ),
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err) == ["vendors[1]"]
    err = error_of(
        stack,
        token,
        neutrality_pb2.ScoreVendorsRequest(
            client="clients/google", vendors=["x"], as_of="2025-07-01"
        ),
    )
    assert field_violations(err) == ["vendors[0]"]
    err = error_of(
        stack, token, neutrality_pb2.ScoreVendorsRequest(client="clients/google", as_of="soon")
    )
    assert field_violations(err) == ["as_of"]
    err = error_of(stack, token, neutrality_pb2.ScoreVendorsRequest(client="google"))
    assert field_violations(err) == ["client"]


def test_as_of_is_required(stack: Stack) -> None:
    """There is no implicit today: every read that depends on a date takes it explicitly."""
    err = error_of(
        stack,
        google_token(stack),
        neutrality_pb2.ScoreVendorsRequest(client="clients/google", vendors=["x"]),
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err) == ["vendors[0]", "as_of"]
    assert "as_of: is required (YYYY-MM-DD)" in (err.details() or "")


def test_unknown_client_is_not_found(stack: Stack) -> None:
    err = error_of(
        stack,
        auth.admin_token(stack.secret),
        neutrality_pb2.ScoreVendorsRequest(client="clients/nobody", as_of="2025-07-01"),
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "clients/nobody" in (err.details() or "")


def test_min_graph_version_in_the_future_fails_precondition(stack: Stack) -> None:
    err = error_of(
        stack,
        google_token(stack),
        neutrality_pb2.ScoreVendorsRequest(
            client="clients/google", min_graph_version=stack.stake_version + 100, as_of="2025-07-01"
        ),
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert str(stack.stake_version + 100) in (err.details() or "")


def test_unreachable_upstream_is_unavailable(token_secret: str) -> None:
    running = create_neutrality(
        NeutralitySettings(
            token_secret=token_secret,
            host="127.0.0.1",
            port=0,
            catalog_addr="127.0.0.1:1",
            requirements_addr="127.0.0.1:1",
            rpc_timeout_seconds=2,
        )
    )
    try:
        channel = open_channel(f"127.0.0.1:{running.port}", auth.admin_token(token_secret), 10)
        with channel, pytest.raises(grpc.RpcError) as info:
            neutrality_pb2_grpc.NeutralityServiceStub(channel).ScoreVendors(
                neutrality_pb2.ScoreVendorsRequest(client="clients/google", as_of="2025-07-01")
            )
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "requirements" in (info.value.details() or "")
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as plain:
            status = health_pb2_grpc.HealthStub(plain).Check(
                health_pb2.HealthCheckRequest(service="dpm.neutrality.v1.NeutralityService"),
                timeout=2,
            )
        assert status.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        running.stop(0)


def test_graph_is_built_once_per_version(stack: Stack) -> None:
    graph = stack.catalog.ExportOwnershipGraph(
        catalog_pb2.ExportOwnershipGraphRequest(as_of="2025-07-01")
    )
    cache = GraphCache(2)
    first = cache.get(graph)
    assert cache.get(graph) is first
    assert cache.builds == 1
    # A closed cycle no longer fails the whole graph: it is recorded on it.
    closed = ownership_pb2.OwnershipGraph(version=9, as_of="2025-07-01")
    for a, b in (("a", "b"), ("b", "a")):
        closed.holdings.add(holder=org(a), held=org(b), equity_fraction=1.0)
    built = cache.get(closed)
    assert built is not None
    (problem,) = built.problems
    assert problem.organizations == ("a", "b")
    assert "closed ownership cycle" in problem.description


def test_a_held_graph_follows_a_stake_event_by_a_delta_and_builds_as_the_whole(
    stack: Stack,
) -> None:
    """What the service does between two scorings: ask with the etag it holds and
    accept a delta; the graph built from it equals one built from the whole export."""
    as_of = "2031-01-01"  # after every event of the other tests: theirs stay as they were

    def fetch(etag: str) -> ownership_pb2.OwnershipGraph:
        merged = ownership_pb2.OwnershipGraph()
        for part in stack.catalog.StreamOwnershipGraph(
            catalog_pb2.ExportOwnershipGraphRequest(
                as_of=as_of, if_none_match=etag, accept_delta=bool(etag)
            )
        ):
            merged.MergeFrom(part)
        return merged

    cache = GraphCache(4)
    cache.get(fetch(""))
    event = ownership_pb2.OwnershipEvent(event_id="google-labelbox", effective_date="2030-06-01")
    event.stake_acquired.holder, event.stake_acquired.held = org("google"), org("labelbox")
    event.stake_acquired.equity_fraction = 0.3
    stack.catalog.RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=event))
    delta = fetch(cache.etag_for(as_of))
    assert delta.delta_from and org("labelbox") in delta.changed_organizations
    changed = cache.get(delta)
    assert changed is not None and cache.deltas == 1
    whole = GraphCache(4).get(fetch(""))
    assert whole is not None
    assert changed.holdings == whole.holdings and changed.index == whole.index
    assert changed.readings.keys() == whole.readings.keys()
    for key, matrix in whole.readings.items():
        assert (changed.readings[key] != matrix).nnz == 0, key
    google = changed.index["google"]
    labelbox = changed.index["labelbox"]
    assert changed.readings[next(iter(changed.readings))][google, labelbox] == 0.3


def test_cached_graph_follows_new_organizations(stack: Stack) -> None:
    """The neutrality service keeps the graph between calls; a new organization
    (which changes the catalog's etag, not the graph version) is seen at once."""
    request = neutrality_pb2.ScoreVendorsRequest(
        client="clients/google", vendors=[org("late-vendor")], as_of="2025-07-02"
    )
    with pytest.raises(grpc.RpcError) as err:
        score(stack, google_token(stack), request)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    stack.catalog.CreateOrganization(
        catalog_pb2.CreateOrganizationRequest(
            organization_id="late-vendor",
            organization=catalog_pb2.Organization(
                display_name="Late", kind=catalog_pb2.ORGANIZATION_KIND_VENDOR
            ),
        )
    )
    (result,) = score(stack, google_token(stack), request).vendors
    assert result.verdict == NEUTRAL


# -- ScorePolicy ------------------------------------------------------------------------------


def score_policy(
    stack: Stack, token: str, request: neutrality_pb2.ScorePolicyRequest
) -> neutrality_pb2.ScoreVendorsResponse:
    channel, stub = stack.scorer(token)
    with channel:
        return stub.ScorePolicy(request)


def policy_error(stack: Stack, request: neutrality_pb2.ScorePolicyRequest) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        score_policy(stack, auth.admin_token(stack.secret), request)
    return info.value


def test_score_policy_equals_score_vendors_for_a_client_with_that_policy(stack: Stack) -> None:
    google = stack.requirements.GetClient(requirements_pb2.GetClientRequest(name="clients/google"))
    by_client = score(
        stack,
        google_token(stack),
        neutrality_pb2.ScoreVendorsRequest(client="clients/google", as_of="2025-07-01"),
    )
    # Any caller may score a policy: here another lab's token.
    microsoft = auth.client_token(stack.secret, "clients/microsoft")
    by_policy = score_policy(
        stack,
        microsoft,
        neutrality_pb2.ScorePolicyRequest(policy=google.neutrality_policy, as_of="2025-07-01"),
    )
    assert by_policy.requirements_revision == 0 and by_policy.etag and not by_client.etag
    by_policy.requirements_revision = by_client.requirements_revision
    by_policy.ClearField("etag")  # ScorePolicy's answers only: sent back as if_none_match
    assert by_policy == by_client
    named = score_policy(
        stack,
        microsoft,
        neutrality_pb2.ScorePolicyRequest(
            policy=google.neutrality_policy, vendors=[org("scale-sub")], as_of="2025-07-01"
        ),
    )
    assert [v.vendor for v in named.vendors] == [org("scale-sub")]
    assert named.vendors[0] == next(v for v in by_client.vendors if v.vendor == org("scale-sub"))


def test_verdicts_only_keeps_verdict_score_and_reasons(stack: Stack) -> None:
    policy = requirements_pb2.NeutralityPolicy(
        competitors=[org("meta"), org("unrecorded-lab")],
        max_competitor_equity=0.25,
        max_competitor_voting=0.25,
    )
    admin = auth.admin_token(stack.secret)
    full = score_policy(
        stack, admin, neutrality_pb2.ScorePolicyRequest(policy=policy, as_of="2025-07-01")
    )
    brief = score_policy(
        stack,
        admin,
        neutrality_pb2.ScorePolicyRequest(policy=policy, as_of="2025-07-01", verdicts_only=True),
    )
    assert any(v.exposures for v in full.vendors)
    assert [
        neutrality_pb2.VendorNeutrality(
            vendor=v.vendor,
            verdict=v.verdict,
            score=v.score,
            reasons=v.reasons,
            ultimate_owner=v.ultimate_owner,
        )
        for v in full.vendors
    ] == list(brief.vendors)
    owners = {v.vendor: v.ultimate_owner for v in brief.vendors}
    # Scale AI answers to itself (Meta's 49% carries no votes); its subsidiary to it.
    assert owners[org("scale-ai")] == org("scale-ai")
    assert owners[org("scale-sub")] == org("scale-ai")
    assert (brief.graph_version, brief.as_of) == (full.graph_version, full.as_of)
    assert list(brief.unresolved_parties) == [org("unrecorded-lab")]


def test_score_policy_names_the_bad_fields(stack: Stack) -> None:
    policy = requirements_pb2.NeutralityPolicy(
        competitors=[org("meta"), "meta", org("meta")],
        max_competitor_equity=1.5,
        unknown_ownership=99,  # type: ignore[arg-type]
        restricted_parties=["nope"],
        as_of="2025-02-30",
    )
    err = policy_error(
        stack, neutrality_pb2.ScorePolicyRequest(policy=policy, vendors=["x"], as_of="soon")
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err) == [
        "policy.competitors[1]",
        "policy.competitors[2]",
        "policy.max_competitor_equity",
        "policy.unknown_ownership",
        "policy.restricted_parties[0]",
        "policy.as_of",
        "vendors[0]",
    ]
    err = policy_error(stack, neutrality_pb2.ScorePolicyRequest(policy=policy))
    assert "as_of" in field_violations(err)
    too_many = requirements_pb2.NeutralityPolicy(competitors=[org(f"o{i}") for i in range(1001)])
    err = policy_error(
        stack, neutrality_pb2.ScorePolicyRequest(policy=too_many, as_of="2025-07-01")
    )
    assert field_violations(err) == ["policy.competitors"]
    err = policy_error(
        stack,
        neutrality_pb2.ScorePolicyRequest(
            policy=requirements_pb2.NeutralityPolicy(), vendors=[org("nobody")], as_of="2025-07-01"
        ),
    )
    assert field_violations(err) == ["vendors[0]"]


def test_score_policy_needs_a_token(stack: Stack) -> None:
    with grpc.insecure_channel(stack.neutrality_address) as bare, pytest.raises(grpc.RpcError) as e:
        neutrality_pb2_grpc.NeutralityServiceStub(bare).ScorePolicy(
            neutrality_pb2.ScorePolicyRequest(as_of="2025-07-01")
        )
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_policy_is_assessed_once_per_graph(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from dpm.neutrality import servicer

    assessed: list[str] = []
    real = servicer.assess

    def counting(graph: Any, vendor: str, *args: Any) -> Any:
        assessed.append(vendor)
        return real(graph, vendor, *args)

    monkeypatch.setattr(servicer, "assess", counting)
    admin = auth.admin_token(stack.secret)
    policy = requirements_pb2.NeutralityPolicy(
        competitors=[org("google"), org("meta")], max_competitor_equity=0.1
    )
    request = neutrality_pb2.ScorePolicyRequest(policy=policy, as_of="2025-07-03")
    first = score_policy(stack, admin, request)
    assert len(assessed) == len(first.vendors) == 3
    # The same policy again, and pinned to another date (the request's date applies).
    assert score_policy(stack, admin, request) == first
    pinned = neutrality_pb2.ScorePolicyRequest()
    pinned.CopyFrom(request)
    pinned.policy.as_of = "2020-01-01"
    assert score_policy(stack, admin, pinned).vendors == first.vendors  # its own etag
    assert len(assessed) == 3
    # Another shape of answer, another date or another policy is its own scoring.
    request.verdicts_only = True
    score_policy(stack, admin, request)
    assert len(assessed) == 6
    request.as_of = "2025-07-04"
    score_policy(stack, admin, request)
    assert len(assessed) == 9
    request.policy.max_competitor_equity = 0.2
    score_policy(stack, admin, request)
    assert len(assessed) == 12
    # A change to the catalog is a new graph: assessed again.
    stack.catalog.CreateOrganization(
        catalog_pb2.CreateOrganizationRequest(
            organization_id="memo-newcomer",
            organization=catalog_pb2.Organization(
                display_name="Newcomer", kind=catalog_pb2.ORGANIZATION_KIND_LAB
            ),
        )
    )
    again = score_policy(stack, admin, request)
    assert len(assessed) == 15
    assert [v.verdict for v in again.vendors] == [
        v.verdict for v in score_policy(stack, admin, request).vendors
    ]
    assert len(assessed) == 15


def test_an_answer_the_caller_holds_comes_back_as_a_header_until_the_graph_moves(
    stack: Stack,
) -> None:
    admin = auth.admin_token(stack.secret)
    policy = requirements_pb2.NeutralityPolicy(competitors=[org("meta")])
    as_of = "2031-02-01"  # after every event of the other tests
    request = neutrality_pb2.ScorePolicyRequest(policy=policy, as_of=as_of, verdicts_only=True)
    first = score_policy(stack, admin, request)
    assert first.etag and first.vendors and not first.not_modified

    request.if_none_match = first.etag
    same = score_policy(stack, admin, request)
    assert same.not_modified and same.etag == first.etag
    assert same.graph_version == first.graph_version and not same.vendors
    # Another policy with that etag: its own answer, in full.
    other = neutrality_pb2.ScorePolicyRequest()
    other.CopyFrom(request)
    other.policy.max_competitor_equity = 0.01
    assert not score_policy(stack, admin, other).not_modified

    event = ownership_pb2.OwnershipEvent(event_id="etag-meta-labelbox", effective_date=as_of)
    event.stake_acquired.holder, event.stake_acquired.held = org("meta"), org("labelbox")
    event.stake_acquired.equity_fraction = 0.4
    stack.catalog.RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=event))
    moved = score_policy(stack, admin, request)
    assert not moved.not_modified and moved.etag != first.etag
    assert moved.graph_version > first.graph_version
    labelbox = next(v for v in moved.vendors if v.vendor == org("labelbox"))
    assert labelbox.verdict != next(v for v in first.vendors if v.vendor == org("labelbox")).verdict


# -- what-if (kept last: it records its event at the end, to compare with the simulation) --


def test_a_what_if_scores_as_if_recorded_and_writes_nothing(stack: Stack) -> None:
    google = stack.requirements.GetClient(requirements_pb2.GetClientRequest(name="clients/google"))
    token = auth.client_token(stack.secret, "clients/microsoft")  # any caller may ask
    event = ownership_pb2.OwnershipEvent(event_id="meta-labelbox-30", effective_date="2025-06-20")
    event.stake_acquired.holder, event.stake_acquired.held = org("meta"), org("labelbox")
    event.stake_acquired.equity_fraction = 0.3

    def scored(**fields: Any) -> neutrality_pb2.ScoreVendorsResponse:
        return score_policy(
            stack,
            token,
            neutrality_pb2.ScorePolicyRequest(
                policy=google.neutrality_policy, as_of="2025-07-01", **fields
            ),
        )

    def labelbox(reply: neutrality_pb2.ScoreVendorsResponse) -> neutrality_pb2.VendorNeutrality:
        return next(v for v in reply.vendors if v.vendor == org("labelbox"))

    before = scored()
    what_if = scored(what_if=event)
    assert what_if.graph_version == before.graph_version + 1
    assert labelbox(before).verdict == neutrality_pb2.VERDICT_NEUTRAL
    assert labelbox(what_if).verdict != neutrality_pb2.VERDICT_NEUTRAL
    assert labelbox(what_if).score < labelbox(before).score
    # Nothing was written: the same answer as before.
    assert scored() == before
    # Bad input is named under what_if, as RecordOwnershipEvent would name it under event.
    bad = ownership_pb2.OwnershipEvent()
    bad.CopyFrom(event)
    bad.stake_acquired.equity_fraction = 1.5
    with pytest.raises(grpc.RpcError) as info:
        scored(what_if=bad)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(info.value) == ["what_if.stake_acquired.equity_fraction"]
    # Recorded for real, the graph gives the very answer the simulation gave.
    stack.catalog.RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=event))
    after = scored()
    assert after.graph_version == what_if.graph_version
    assert list(after.vendors) == list(what_if.vendors)
