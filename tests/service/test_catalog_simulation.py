"""SimulateOwnershipEvent: what recording would do, with nothing written (real server,
SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from test_catalog_support import Catalog, field_violations, org, running_catalog, stake

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth
from dpm.platform.events import OwnershipChanged
from dpm.platform.grpc_client import open_channel

AS_OF = "2025-07-01"


@pytest.fixture
def catalog(
    database_url: str, token_secret: str, admin_token: str, tmp_path: Path
) -> Iterator[Catalog]:
    with running_catalog(database_url, token_secret, admin_token, tmp_path) as running:
        running.org("meta-fund", "investor")
        running.org("meta", "lab")
        running.org("scale-ai", "vendor")
        running.org("google", "lab")
        running.record(stake("fund-meta", "meta-fund", "meta", "2019-01-01", 0.3))
        yield running


def simulate(
    c: Catalog, event: ownership_pb2.OwnershipEvent, **fields: object
) -> catalog_pb2.SimulateOwnershipEventResponse:
    return c.stub.SimulateOwnershipEvent(
        catalog_pb2.SimulateOwnershipEventRequest(event=event, as_of=AS_OF, **fields)
    )


def graph_pairs(graph: ownership_pb2.OwnershipGraph) -> set[tuple[str, str]]:
    return {(h.holder, h.held) for h in graph.holdings}


META_STAKE = stake("meta-scale", "meta", "scale-ai", "2025-06-12", 0.49, 0.0)


def test_it_answers_what_recording_would_do_and_writes_nothing(catalog: Catalog) -> None:
    before = catalog.graph(AS_OF)
    published = len(catalog.published.calls)
    answer = simulate(catalog, META_STAKE)
    assert answer.would_change
    assert answer.event.name == "ownershipEvents/meta-scale"
    assert answer.event.graph_version == before.version + 1
    assert not answer.event.HasField("record_time")
    # Meta's group (and the fund above Meta) could now see Scale AI: their clients re-match.
    assert {org("meta"), org("scale-ai"), org("meta-fund")} <= set(answer.upstream)
    assert org("google") not in answer.upstream
    assert (org("meta"), org("scale-ai")) in graph_pairs(answer.graph)
    assert graph_pairs(answer.graph) - graph_pairs(before) == {(org("meta"), org("scale-ai"))}
    assert answer.graph.etag.startswith("whatif-") and not answer.graph.delta_from
    # Nothing stayed: no event, the same graph, nothing announced.
    with pytest.raises(grpc.RpcError) as info:
        catalog.event("meta-scale")
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    assert catalog.graph(AS_OF).etag == before.etag
    time.sleep(0.3)  # the relay polls every 0.05 s
    assert len(catalog.published.calls) == published
    # Recorded for real, the event takes the version the simulation said.
    assert catalog.record(META_STAKE).graph_version == answer.event.graph_version
    replay = simulate(catalog, META_STAKE, skip_graph=True)
    assert not replay.would_change and not replay.upstream
    assert not replay.HasField("graph")
    assert catalog.published.wait_for(OwnershipChanged.TASK, "event", "ownershipEvents/meta-scale")


def test_the_graph_comes_as_a_delta_from_the_callers_copy(catalog: Catalog) -> None:
    held = catalog.graph(AS_OF)
    answer = simulate(catalog, META_STAKE, if_none_match=held.etag, accept_delta=True)
    assert answer.graph.delta_from == held.etag
    assert {org("meta"), org("scale-ai")} <= set(answer.graph.changed_organizations)
    assert (org("meta"), org("scale-ai")) in graph_pairs(answer.graph)
    # Its etag names no served graph: sent back, the whole graph comes.
    whole = catalog.stub.ExportOwnershipGraph(
        catalog_pb2.ExportOwnershipGraphRequest(
            as_of=AS_OF, if_none_match=answer.graph.etag, accept_delta=True
        )
    )
    assert not whole.not_modified and not whole.delta_from and whole.etag == held.etag


def test_it_refuses_what_recording_refuses_naming_the_same_field(catalog: Catalog) -> None:
    bad = stake("too-much", "meta", "scale-ai", "2025-06-12", 1.5)
    refusals = []
    for call in (
        lambda: simulate(catalog, bad),
        lambda: catalog.stub.RecordOwnershipEvent(
            catalog_pb2.RecordOwnershipEventRequest(event=bad)
        ),
    ):
        with pytest.raises(grpc.RpcError) as info:
            call()
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        refusals.append(field_violations(info.value))
    assert refusals[0] == refusals[1] == ["event.stake_acquired.equity_fraction"]
    with pytest.raises(grpc.RpcError) as info:
        catalog.stub.SimulateOwnershipEvent(
            catalog_pb2.SimulateOwnershipEventRequest(event=META_STAKE, as_of="July")
        )
    assert field_violations(info.value) == ["as_of"]


def test_a_lab_may_simulate_but_not_record(catalog: Catalog, token_secret: str) -> None:
    token = auth.client_token(token_secret, "clients/google")
    channel = open_channel(catalog.address, token, 5)
    try:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        answer = stub.SimulateOwnershipEvent(
            catalog_pb2.SimulateOwnershipEventRequest(event=META_STAKE, as_of=AS_OF)
        )
        assert answer.would_change
        with pytest.raises(grpc.RpcError) as info:
            stub.RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=META_STAKE))
        assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
    finally:
        channel.close()
