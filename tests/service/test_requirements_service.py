"""RequirementsService end to end: a real server on port 0, real channels, SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from sqlalchemy import select
from sqlalchemy.orm import Session

from dpm.common.v1 import common_pb2
from dpm.platform import auth
from dpm.platform.db import Database, make_engine, normalize_url
from dpm.platform.embedded_redis import free_port
from dpm.platform.errors import AlreadyExists, InvalidArgument
from dpm.platform.events import Queue
from dpm.platform.grpc_client import open_channel
from dpm.platform.grpc_server import RunningServer
from dpm.platform.names import ClientName
from dpm.platform.outbox import celery_publisher
from dpm.platform.pagination import PageTokens
from dpm.requirements import seeding
from dpm.requirements.server import SPEC, create_server
from dpm.requirements.settings import RequirementsSettings
from dpm.requirements.store.models import Base, ClientCompetitorRow, OutboxRow
from dpm.requirements.v1 import requirements_pb2 as pb
from dpm.requirements.v1 import requirements_pb2_grpc as pb_grpc

Stub = pb_grpc.RequirementsServiceStub
SERVICE_NAME = SPEC.service.full_name


@dataclass
class Recorder:
    """A publisher that keeps what the outbox relay hands it."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, task: str, queue: str, kwargs: dict[str, Any]) -> None:
        with self.lock:
            self.calls.append((task, queue, kwargs))

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.calls) >= count:
                    return list(self.calls)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} published tasks, got {self.calls}")


@dataclass
class Env:
    running: RunningServer
    recorder: Recorder
    database_url: str
    secret: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.running.port}"

    def stub(self, token: str) -> Stub:
        return Stub(open_channel(self.address, token, 5))

    @property
    def admin(self) -> Stub:
        return self.stub(auth.admin_token(self.secret))

    def as_client(self, client_id: str) -> Stub:
        return self.stub(auth.client_token(self.secret, f"clients/{client_id}"))

    def outbox(self) -> list[OutboxRow]:
        engine = make_engine(self.database_url)
        try:
            with Session(engine) as session:
                return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
        finally:
            engine.dispose()


def settings_for(database_url: str, secret: str) -> RequirementsSettings:
    return RequirementsSettings(
        token_secret=secret,
        database_url=database_url,
        host="127.0.0.1",
        port=0,
        outbox_poll_seconds=0.05,
    )


def start(database_url: str, secret: str) -> Iterator[Env]:
    recorder = Recorder()
    running = create_server(settings_for(database_url, secret), recorder)
    try:
        yield Env(running, recorder, database_url, secret)
    finally:
        running.stop(0)


@pytest.fixture
def env(database_url: str, token_secret: str) -> Iterator[Env]:
    yield from start(database_url, token_secret)


@pytest.fixture(scope="module")
def sqlite_env(tmp_path_factory: pytest.TempPathFactory, token_secret: str) -> Iterator[Env]:
    """One server for the many small refusal tests."""
    path: Path = tmp_path_factory.mktemp("requirements") / "req.db"
    yield from start(f"sqlite:///{path}", token_secret)


def google(**overrides: Any) -> pb.Client:
    client = pb.Client(
        display_name="Google DeepMind",
        organization="organizations/google",
        requirements=pb.Requirements(
            needs=[
                pb.Need(
                    modality=common_pb2.MODALITY_RLHF,
                    monthly_volume=200_000,
                    min_quality=0.9,
                    max_unit_price_usd=4.5,
                ),
                pb.Need(modality=common_pb2.MODALITY_TEXT, monthly_volume=1_000_000),
                pb.Need(modality=common_pb2.MODALITY_CODE, monthly_volume=50_000),
            ],
            required_certifications=[common_pb2.CERTIFICATION_SOC2_TYPE_II],
            allowed_regions=["US", "EU"],
            monthly_budget_usd=2_500_000,
        ),
        neutrality_policy=pb.NeutralityPolicy(
            competitors=["organizations/meta", "organizations/openai", "organizations/microsoft"],
            max_competitor_equity=0.25,
            max_competitor_voting=0.25,
            board_seat_disqualifies=True,
        ),
    )
    for key, value in overrides.items():
        if isinstance(value, Message):
            getattr(client, key).CopyFrom(value)
        else:
            setattr(client, key, value)
    return client


def policy(*competitors: str) -> pb.NeutralityPolicy:
    return pb.NeutralityPolicy(
        competitors=[f"organizations/{c}" for c in competitors],
        max_competitor_equity=0.25,
        max_competitor_voting=0.25,
    )


def create(stub: Stub, client_id: str, client: pb.Client | None = None) -> pb.CreateClientResponse:
    return stub.CreateClient(pb.CreateClientRequest(client_id=client_id, client=client or google()))


def changed(client: str, revision: int, deleted: bool = False) -> dict[str, Any]:
    """The payload of the ClientChanged event the outbox publishes."""
    return {"v": 1, "client": client, "revision": revision, "deleted": deleted}


def code_of(call: Any, *args: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call(*args)
    return err.value.code()


def bad_fields(call: Any, *args: Any) -> list[str]:
    """The BadRequest field names of the INVALID_ARGUMENT ``call`` fails with."""
    with pytest.raises(grpc.RpcError) as err:
        call(*args)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(err.value)  # type: ignore[arg-type]
    assert status is not None
    fields: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields.extend(v.field for v in bad_request.field_violations)
    return fields


# -- lifecycle --------------------------------------------------------------------


def test_migrations_match_the_models(env: Env) -> None:
    engine = make_engine(normalize_url(env.database_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_health_is_serving(env: Env) -> None:
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(env.address))
    deadline = time.monotonic() + 5
    status = None
    while time.monotonic() < deadline:
        status = health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME)).status
        if status == health_pb2.HealthCheckResponse.SERVING:
            break
        time.sleep(0.05)
    assert status == health_pb2.HealthCheckResponse.SERVING


def test_create_get_update_delete(env: Env) -> None:
    created = create(env.admin, "google")
    client = created.client
    assert client.name == "clients/google"
    assert client.revision == 1
    assert client.requirements == google().requirements
    assert client.neutrality_policy == google().neutrality_policy
    assert client.create_time.seconds > 0
    assert client.update_time == client.create_time
    assert auth.verify_token(env.secret, created.access_token).subject == "clients/google"

    own = env.stub(created.access_token)
    assert own.GetClient(pb.GetClientRequest(name="clients/google")) == client
    assert env.admin.GetClient(pb.GetClientRequest(name="clients/google")) == client

    patch = pb.Client(name="clients/google", display_name="Google")
    updated = own.UpdateClient(
        pb.UpdateClientRequest(
            client=patch, update_mask=field_mask_pb2.FieldMask(paths=["display_name"])
        )
    )
    assert updated.display_name == "Google"
    assert updated.revision == 2
    assert updated.requirements == client.requirements
    assert updated.create_time == client.create_time
    assert updated.update_time.ToDatetime() >= client.update_time.ToDatetime()
    assert own.GetClient(pb.GetClientRequest(name="clients/google")) == updated

    env.admin.DeleteClient(pb.DeleteClientRequest(name="clients/google"))
    assert code_of(env.admin.GetClient, pb.GetClientRequest(name="clients/google")) is (
        grpc.StatusCode.NOT_FOUND
    )
    assert code_of(own.GetClient, pb.GetClientRequest(name="clients/google")) is (
        grpc.StatusCode.UNAUTHENTICATED  # deleting the lab revoked its token
    )
    assert code_of(env.admin.DeleteClient, pb.DeleteClientRequest(name="clients/google")) is (
        grpc.StatusCode.NOT_FOUND
    )
    # The id is free again; its revisions continue past the deleted client's (2, then the delete).
    recreated = create(env.admin, "google").client
    assert recreated.revision == 4
    assert recreated.create_time.ToDatetime() >= client.create_time.ToDatetime()
    env.admin.DeleteClient(pb.DeleteClientRequest(name="clients/google"))
    assert create(env.admin, "google").client.revision == 6


def test_create_twice_is_already_exists(env: Env) -> None:
    create(env.admin, "xai", google(display_name="xAI", organization="organizations/xai"))
    assert code_of(create, env.admin, "xai") is grpc.StatusCode.ALREADY_EXISTS


def test_update_mask_partial_updates_and_revision_growth(env: Env) -> None:
    create(env.admin, "google")
    stub = env.as_client("google")

    def update(patch: pb.Client, *paths: str) -> pb.Client:
        patch.name = "clients/google"
        return stub.UpdateClient(
            pb.UpdateClientRequest(client=patch, update_mask=field_mask_pb2.FieldMask(paths=paths))
        )

    after_needs = update(
        pb.Client(
            display_name="ignored",
            requirements=pb.Requirements(
                needs=[pb.Need(modality=common_pb2.MODALITY_VIDEO, monthly_volume=10)],
                allowed_regions=["JP"],
            ),
        ),
        "requirements.needs",
    )
    assert after_needs.revision == 2
    assert after_needs.display_name == "Google DeepMind"
    assert [n.modality for n in after_needs.requirements.needs] == [common_pb2.MODALITY_VIDEO]
    assert list(after_needs.requirements.allowed_regions) == ["US", "EU"]

    after_competitors = update(
        pb.Client(neutrality_policy=policy("xai", "anthropic")), "neutrality_policy.competitors"
    )
    assert after_competitors.revision == 3
    assert list(after_competitors.neutrality_policy.competitors) == [
        "organizations/xai",
        "organizations/anthropic",
    ]
    assert after_competitors.neutrality_policy.board_seat_disqualifies  # untouched

    after_weights = update(
        pb.Client(requirements=pb.Requirements(weights=pb.RankingWeights(price=0.5))),
        "requirements.weights.price",
    )
    assert after_weights.revision == 4
    assert after_weights.requirements.weights.price == 0.5
    assert after_weights.requirements.needs == after_needs.requirements.needs

    # An empty mask replaces every mutable field.
    replaced = update(pb.Client(display_name="Only a name"))
    assert replaced.revision == 5
    assert replaced.display_name == "Only a name"
    assert replaced.organization == ""
    assert replaced.requirements == pb.Requirements()
    assert replaced.neutrality_policy == pb.NeutralityPolicy()
    assert replaced.create_time == after_needs.create_time

    # revision in the request is output only: ignored.
    assert update(pb.Client(revision=99, display_name="x"), "display_name").revision == 6


def test_list_pages_and_competitor_filter(env: Env) -> None:
    competitors = {
        "google": ("meta", "openai", "microsoft"),
        "microsoft": ("google", "meta", "xai"),
        "xai": ("openai", "google"),
        "openai": ("google", "meta", "xai", "anthropic"),
        "anthropic": ("openai", "google"),
        "amazon": (),
    }
    for client_id, comps in competitors.items():
        create(env.admin, client_id, google(neutrality_policy=policy(*comps), organization=""))

    def list_all(page_size: int, *names: str, names_only: bool = False) -> list[str]:
        seen: list[str] = []
        token = ""
        while True:
            page = env.admin.ListClients(
                pb.ListClientsRequest(
                    page_size=page_size,
                    page_token=token,
                    competitors_any=names,
                    names_only=names_only,
                )
            )
            assert len(page.clients) <= page_size
            for c in page.clients:
                # names_only: the name and nothing else; otherwise the whole client.
                assert c.HasField("neutrality_policy") is not names_only
                seen.append(c.name.removeprefix("clients/"))
            token = page.next_page_token
            if not token:
                return seen

    everyone = sorted(competitors)
    for names_only in (False, True):
        assert list_all(100, names_only=names_only) == everyone
        assert list_all(1, names_only=names_only) == everyone
        assert list_all(4, names_only=names_only) == everyone
        assert list_all(2, "organizations/meta", names_only=names_only) == [
            "google",
            "microsoft",
            "openai",
        ]
        assert list_all(
            1, "organizations/xai", "organizations/anthropic", names_only=names_only
        ) == ["microsoft", "openai"]
        assert list_all(10, "organizations/nobody", names_only=names_only) == []
    # A service token may list too.
    service = env.stub(auth.service_token(env.secret, "worker"))
    assert len(service.ListClients(pb.ListClientsRequest()).clients) == len(everyone)

    # Changing the policy rewrites the competitor index.
    env.admin.UpdateClient(
        pb.UpdateClientRequest(
            client=pb.Client(name="clients/amazon", neutrality_policy=policy("meta")),
            update_mask=field_mask_pb2.FieldMask(paths=["neutrality_policy.competitors"]),
        )
    )
    env.admin.UpdateClient(
        pb.UpdateClientRequest(
            client=pb.Client(name="clients/google", neutrality_policy=policy("openai")),
            update_mask=field_mask_pb2.FieldMask(paths=["neutrality_policy"]),
        )
    )
    assert list_all(5, "organizations/meta") == ["amazon", "microsoft", "openai"]
    # Deleting drops it.
    env.admin.DeleteClient(pb.DeleteClientRequest(name="clients/openai"))
    assert list_all(5, "organizations/meta") == ["amazon", "microsoft"]
    # A restricted party is watched like a competitor: a change upstream of it re-matches.
    restricted = policy("meta")
    restricted.restricted_parties.append("organizations/sanctioned-co")
    env.admin.UpdateClient(
        pb.UpdateClientRequest(
            client=pb.Client(name="clients/amazon", neutrality_policy=restricted),
            update_mask=field_mask_pb2.FieldMask(paths=["neutrality_policy"]),
        )
    )
    assert list_all(5, "organizations/sanctioned-co") == ["amazon"]


def test_page_tokens_are_bound_to_the_query_and_service(env: Env) -> None:
    for client_id in ("a", "b", "c"):
        create(env.admin, client_id, google(neutrality_policy=policy("meta"), organization=""))
    first = env.admin.ListClients(pb.ListClientsRequest(page_size=1))
    assert first.next_page_token

    def list_fields(request: pb.ListClientsRequest) -> list[str]:
        return bad_fields(env.admin.ListClients, request)

    # The same token with another filter.
    assert list_fields(
        pb.ListClientsRequest(
            page_token=first.next_page_token, competitors_any=["organizations/meta"]
        )
    ) == ["page_token"]
    # Forged: garbage, or a tampered payload.
    assert list_fields(pb.ListClientsRequest(page_token="not-a-token")) == ["page_token"]
    forged = PageTokens("some-other-secret-0123456789", "requirements.clients").issue("a", [])
    assert list_fields(pb.ListClientsRequest(page_token=forged)) == ["page_token"]
    # Foreign: a token for another service's list, signed with the same secret.
    foreign = PageTokens(env.secret, "catalog.vendors").issue("a", [])
    assert list_fields(pb.ListClientsRequest(page_token=foreign)) == ["page_token"]
    # A genuine token works.
    second = env.admin.ListClients(
        pb.ListClientsRequest(page_size=1, page_token=first.next_page_token)
    )
    assert [c.name for c in second.clients] == ["clients/b"]


def test_outbox_announces_every_change_with_its_revision(env: Env) -> None:
    create(env.admin, "google")
    own = env.as_client("google")
    own.UpdateClient(
        pb.UpdateClientRequest(
            client=pb.Client(name="clients/google", display_name="G"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    env.admin.DeleteClient(pb.DeleteClientRequest(name="clients/google"))
    # The delete is announced with the revision of its tombstone.
    expected = [
        ("dpm.client_changed", Queue.REMATCH, changed("clients/google", 1)),
        ("dpm.client_changed", Queue.REMATCH, changed("clients/google", 2)),
        ("dpm.client_changed", Queue.REMATCH, changed("clients/google", 3, deleted=True)),
    ]
    assert env.recorder.wait_for(3) == expected
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        rows = env.outbox()
        if all(r.sent_at is not None for r in rows):
            break
        time.sleep(0.02)
    assert [(r.task, r.queue, r.payload) for r in rows] == expected
    assert all(r.sent_at is not None for r in rows)


def test_refused_update_writes_nothing(env: Env) -> None:
    before = create(env.admin, "google").client
    env.recorder.wait_for(1)
    bad = pb.Client(
        name="clients/google",
        display_name="Google",
        neutrality_policy=pb.NeutralityPolicy(
            competitors=["organizations/xai", "not-an-org"], max_competitor_equity=2
        ),
    )
    assert bad_fields(
        env.admin.UpdateClient,
        pb.UpdateClientRequest(
            client=bad,
            update_mask=field_mask_pb2.FieldMask(paths=["display_name", "neutrality_policy"]),
        ),
    ) == [
        "client.neutrality_policy.competitors[1]",
        "client.neutrality_policy.max_competitor_equity",
    ]
    assert env.admin.GetClient(pb.GetClientRequest(name="clients/google")) == before
    assert len(env.outbox()) == 1
    listed = env.admin.ListClients(pb.ListClientsRequest(competitors_any=["organizations/xai"]))
    assert list(listed.clients) == []
    engine = make_engine(env.database_url)
    try:
        with engine.connect() as conn:
            competitors = conn.execute(select(ClientCompetitorRow.competitor_id)).scalars().all()
        assert sorted(competitors) == ["meta", "microsoft", "openai"]
    finally:
        engine.dispose()
    time.sleep(0.2)
    assert len(env.recorder.calls) == 1


def test_concurrent_updates_each_get_a_revision(env: Env) -> None:
    create(env.admin, "google")
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        stub = env.as_client("google")
        try:
            for i in range(3):
                stub.UpdateClient(
                    pb.UpdateClientRequest(
                        client=pb.Client(name="clients/google", display_name=f"G {n}.{i}"),
                        update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
                    )
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert env.admin.GetClient(pb.GetClientRequest(name="clients/google")).revision == 19
    revisions = sorted(r.payload["revision"] for r in env.outbox())
    assert revisions == list(range(1, 20))


def test_real_publish_reaches_the_redis_broker(
    database_url: str, token_secret: str, redis_url: str
) -> None:
    # A Redis database of its own, so a worker running elsewhere does not consume the message.
    broker = redis_url.rsplit("/", 1)[0] + "/11"
    r = redis.Redis.from_url(broker)
    running = create_server(settings_for(database_url, token_secret), celery_publisher(broker))
    client_id = f"lab-{uuid.uuid4().hex[:8]}"
    try:
        stub = Stub(open_channel(f"127.0.0.1:{running.port}", auth.admin_token(token_secret), 5))
        create(stub, client_id)
        deadline = time.monotonic() + 10
        found: dict[str, Any] | None = None
        while found is None and time.monotonic() < deadline:
            for raw in r.lrange("dpm.rematch", 0, -1):
                message = json.loads(raw)
                _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
                if kwargs.get("client") == f"clients/{client_id}":
                    found = {"task": message["headers"]["task"], "kwargs": kwargs}
            time.sleep(0.05)
        assert found == {
            "task": "dpm.client_changed",
            "kwargs": changed(f"clients/{client_id}", 1),
        }
    finally:
        running.stop(0)
        r.delete("dpm.rematch")
        r.close()


# -- who may do what ----------------------------------------------------------------


def test_client_token_sees_only_itself(sqlite_env: Env) -> None:
    env = sqlite_env
    create(env.admin, "perm-google")
    create(
        env.admin,
        "perm-meta",
        google(organization="organizations/meta", neutrality_policy=policy()),
    )
    google_stub = env.as_client("perm-google")
    assert google_stub.GetClient(pb.GetClientRequest(name="clients/perm-google")).name == (
        "clients/perm-google"
    )
    denied = grpc.StatusCode.PERMISSION_DENIED
    for other in ("clients/perm-meta", "clients/perm-nobody", "clients/BAD!", ""):
        assert code_of(google_stub.GetClient, pb.GetClientRequest(name=other)) is denied
        assert (
            code_of(
                google_stub.UpdateClient,
                pb.UpdateClientRequest(client=pb.Client(name=other, display_name="mine")),
            )
            is denied
        )
    assert code_of(google_stub.ListClients, pb.ListClientsRequest()) is denied
    assert code_of(create, google_stub, "perm-new") is denied
    assert code_of(
        google_stub.DeleteClient, pb.DeleteClientRequest(name="clients/perm-google")
    ) is (denied)
    # A service token reads but does not create or delete.
    service = env.stub(auth.service_token(env.secret, "matching"))
    assert (
        service.GetClient(pb.GetClientRequest(name="clients/perm-meta")).name == "clients/perm-meta"
    )
    assert code_of(create, service, "perm-new") is denied
    assert code_of(service.DeleteClient, pb.DeleteClientRequest(name="clients/perm-meta")) is denied
    # A client whose record is gone gets NOT_FOUND for itself only.
    assert (
        code_of(env.as_client("perm-gone").GetClient, pb.GetClientRequest(name="clients/perm-gone"))
        is grpc.StatusCode.NOT_FOUND
    )


def test_unauthenticated_without_or_with_garbage_token(sqlite_env: Env) -> None:
    request = pb.GetClientRequest(name="clients/google")
    bare = Stub(grpc.insecure_channel(sqlite_env.address))
    assert code_of(bare.GetClient, request) is grpc.StatusCode.UNAUTHENTICATED
    assert code_of(sqlite_env.stub("garbage").GetClient, request) is grpc.StatusCode.UNAUTHENTICATED
    other_secret = auth.admin_token("another-secret-0123456789abcdefghij")
    assert code_of(sqlite_env.stub(other_secret).ListClients, pb.ListClientsRequest()) is (
        grpc.StatusCode.UNAUTHENTICATED
    )


# -- bad input ----------------------------------------------------------------------


def test_every_validation_violation_is_named(env: Env) -> None:
    client = google()
    client.display_name = ""
    client.organization = "google"
    client.requirements.needs[1].modality = common_pb2.MODALITY_UNSPECIFIED
    client.requirements.needs[2].modality = common_pb2.MODALITY_RLHF
    client.requirements.needs[0].monthly_volume = 0
    client.requirements.needs[0].min_quality = 1.5
    client.requirements.needs[0].max_unit_price_usd = -1
    client.requirements.required_certifications.append(common_pb2.CERTIFICATION_UNSPECIFIED)
    client.requirements.allowed_regions.append("usa")
    client.requirements.monthly_budget_usd = -1
    client.requirements.weights.fit = -1
    client.neutrality_policy.competitors.append("organizations/meta")
    client.neutrality_policy.max_competitor_equity = float("nan")
    client.neutrality_policy.max_competitor_voting = 2
    client.neutrality_policy.leadership_move_window_days = -7
    assert bad_fields(
        env.admin.CreateClient, pb.CreateClientRequest(client_id="google", client=client)
    ) == [
        "client.display_name",
        "client.organization",
        "client.requirements.needs[0].monthly_volume",
        "client.requirements.needs[0].min_quality",
        "client.requirements.needs[0].max_unit_price_usd",
        "client.requirements.needs[1].modality",
        "client.requirements.needs[2].modality",
        "client.requirements.required_certifications[1]",
        "client.requirements.allowed_regions[2]",
        "client.requirements.monthly_budget_usd",
        "client.requirements.weights.fit",
        "client.neutrality_policy.competitors[3]",
        "client.neutrality_policy.max_competitor_equity",
        "client.neutrality_policy.max_competitor_voting",
        "client.neutrality_policy.leadership_move_window_days",
    ]
    # Nothing was created, nothing announced.
    assert code_of(env.admin.GetClient, pb.GetClientRequest(name="clients/google")) is (
        grpc.StatusCode.NOT_FOUND
    )
    assert env.outbox() == []


def _need(**kw: Any) -> pb.Need:
    base: dict[str, Any] = {"modality": common_pb2.MODALITY_TEXT, "monthly_volume": 1}
    return pb.Need(**{**base, **kw})


RULES: list[tuple[str, pb.Client, str]] = [
    ("display_name", pb.Client(display_name=""), "client.display_name"),
    ("display_name_long", pb.Client(display_name="x" * 201), "client.display_name"),
    ("organization", pb.Client(display_name="x", organization="orgs/x"), "client.organization"),
    (
        "modality",
        pb.Client(
            display_name="x", requirements=pb.Requirements(needs=[_need(), _need(modality=0)])
        ),
        "client.requirements.needs[1].modality",
    ),
    (
        "duplicate_modality",
        pb.Client(display_name="x", requirements=pb.Requirements(needs=[_need(), _need()])),
        "client.requirements.needs[1].modality",
    ),
    (
        "monthly_volume",
        pb.Client(display_name="x", requirements=pb.Requirements(needs=[_need(monthly_volume=0)])),
        "client.requirements.needs[0].monthly_volume",
    ),
    (
        "min_quality",
        pb.Client(display_name="x", requirements=pb.Requirements(needs=[_need(min_quality=-0.5)])),
        "client.requirements.needs[0].min_quality",
    ),
    (
        "max_unit_price_usd",
        pb.Client(
            display_name="x", requirements=pb.Requirements(needs=[_need(max_unit_price_usd=-2)])
        ),
        "client.requirements.needs[0].max_unit_price_usd",
    ),
    (
        "required_certifications",
        pb.Client(
            display_name="x",
            requirements=pb.Requirements(
                required_certifications=[common_pb2.CERTIFICATION_UNSPECIFIED]
            ),
        ),
        "client.requirements.required_certifications[0]",
    ),
    (
        "allowed_regions",
        pb.Client(display_name="x", requirements=pb.Requirements(allowed_regions=["US", "eu"])),
        "client.requirements.allowed_regions[1]",
    ),
    (
        "monthly_budget_usd",
        pb.Client(display_name="x", requirements=pb.Requirements(monthly_budget_usd=-1)),
        "client.requirements.monthly_budget_usd",
    ),
    (
        "weights",
        pb.Client(
            display_name="x",
            requirements=pb.Requirements(weights=pb.RankingWeights(quality=float("inf"))),
        ),
        "client.requirements.weights.quality",
    ),
    (
        "competitors",
        pb.Client(display_name="x", neutrality_policy=pb.NeutralityPolicy(competitors=["meta"])),
        "client.neutrality_policy.competitors[0]",
    ),
    (
        "duplicate_competitors",
        pb.Client(display_name="x", neutrality_policy=policy("meta", "xai", "meta")),
        "client.neutrality_policy.competitors[2]",
    ),
    (
        "max_competitor_equity",
        pb.Client(
            display_name="x", neutrality_policy=pb.NeutralityPolicy(max_competitor_equity=-1)
        ),
        "client.neutrality_policy.max_competitor_equity",
    ),
    (
        "max_competitor_voting",
        pb.Client(
            display_name="x", neutrality_policy=pb.NeutralityPolicy(max_competitor_voting=1.01)
        ),
        "client.neutrality_policy.max_competitor_voting",
    ),
    (
        "leadership_move_window_days",
        pb.Client(
            display_name="x", neutrality_policy=pb.NeutralityPolicy(leadership_move_window_days=-1)
        ),
        "client.neutrality_policy.leadership_move_window_days",
    ),
]


@pytest.mark.parametrize(("client", "field"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_on_create_and_update(sqlite_env: Env, client: pb.Client, field: str) -> None:
    stub = sqlite_env.admin
    client_id = f"rule-{uuid.uuid4().hex[:8]}"
    assert bad_fields(create, stub, client_id, client) == [field]
    create(stub, client_id, pb.Client(display_name="valid"))
    update = pb.Client()
    update.CopyFrom(client)
    update.name = f"clients/{client_id}"
    assert bad_fields(stub.UpdateClient, pb.UpdateClientRequest(client=update)) == [field]
    assert stub.GetClient(pb.GetClientRequest(name=f"clients/{client_id}")).revision == 1


@pytest.mark.parametrize("client_id", ["", "Google", "-lead", "a" * 64, "has space", "x/y"])
def test_bad_client_id(sqlite_env: Env, client_id: str) -> None:
    assert bad_fields(create, sqlite_env.admin, client_id) == ["client_id"]


def test_bad_names_and_masks(sqlite_env: Env) -> None:
    admin = sqlite_env.admin
    assert bad_fields(admin.GetClient, pb.GetClientRequest(name="google")) == ["name"]
    assert bad_fields(admin.GetClient, pb.GetClientRequest(name="clients/Go ogle")) == ["name"]
    assert bad_fields(admin.DeleteClient, pb.DeleteClientRequest(name="vendors/x")) == ["name"]
    assert bad_fields(
        admin.UpdateClient, pb.UpdateClientRequest(client=pb.Client(name="google"))
    ) == ["client.name"]
    create(admin, "mask-google")
    for path in ("revision", "name", "create_time", "colour", "requirements.needs.modality"):
        assert bad_fields(
            admin.UpdateClient,
            pb.UpdateClientRequest(
                client=pb.Client(name="clients/mask-google", display_name="x"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name", path]),
            ),
        ) == ["update_mask"], path
    assert admin.GetClient(pb.GetClientRequest(name="clients/mask-google")).revision == 1
    assert (
        code_of(
            admin.UpdateClient,
            pb.UpdateClientRequest(client=pb.Client(name="clients/mask-nobody", display_name="x")),
        )
        is grpc.StatusCode.NOT_FOUND
    )
    assert bad_fields(
        admin.ListClients, pb.ListClientsRequest(competitors_any=["organizations/meta", "meta"])
    ) == ["competitors_any[1]"]
    assert bad_fields(admin.ListClients, pb.ListClientsRequest(page_size=-1)) == ["page_size"]


# -- BatchGetClients --------------------------------------------------------------------


def batch(stub: Stub, *names: str) -> pb.BatchGetClientsResponse:
    return stub.BatchGetClients(pb.BatchGetClientsRequest(names=names))


def test_batch_get_answers_in_request_order_with_missing_and_duplicates_once(env: Env) -> None:
    for client_id in ("b-one", "b-two", "b-three"):
        create(env.admin, client_id, google(organization=""))
    reply = batch(
        env.admin,
        "clients/b-three",
        "clients/b-nobody",
        "clients/b-one",
        "clients/b-three",
        "clients/b-two",
        "clients/b-nobody",
        "clients/b-gone",
    )
    assert [c.name for c in reply.clients] == ["clients/b-three", "clients/b-one", "clients/b-two"]
    assert list(reply.missing) == ["clients/b-nobody", "clients/b-gone"]
    for client in reply.clients:
        assert client == env.admin.GetClient(pb.GetClientRequest(name=client.name))
    assert batch(env.admin) == pb.BatchGetClientsResponse()
    # A service reads a worker's whole chunk (past one IN list) in one call.
    seeding.load_clients(
        Database(make_engine(env.database_url)),
        [(ClientName(f"b-{i:04d}"), google(organization="")) for i in range(1000)],
    )
    names = [f"clients/b-{i:04d}" for i in reversed(range(1000))]
    service = env.stub(auth.service_token(env.secret, "worker"))
    reply = batch(service, *names)
    assert [c.name for c in reply.clients] == names
    assert not reply.missing


def test_batch_get_names_each_bad_name_and_refuses_more_than_1000(sqlite_env: Env) -> None:
    admin = sqlite_env.admin
    assert bad_fields(
        admin.BatchGetClients,
        pb.BatchGetClientsRequest(names=["clients/ok", "google", "clients/Go ogle", "clients/x\n"]),
    ) == ["names[1]", "names[2]", "names[3]"]
    too_many = pb.BatchGetClientsRequest(names=[f"clients/c-{i}" for i in range(1001)])
    assert bad_fields(admin.BatchGetClients, too_many) == ["names"]
    exactly = pb.BatchGetClientsRequest(names=[f"clients/c-{i}" for i in range(1000)])
    assert len(admin.BatchGetClients(exactly).missing) == 1000


def test_batch_get_is_for_readers_only(sqlite_env: Env) -> None:
    create(sqlite_env.admin, "batch-lab")
    request = pb.BatchGetClientsRequest(names=["clients/batch-lab"])
    lab = sqlite_env.as_client("batch-lab")
    assert code_of(lab.BatchGetClients, request) is grpc.StatusCode.PERMISSION_DENIED
    auditor = sqlite_env.stub(
        auth.mint(sqlite_env.secret, auth.Role.AUDITOR, "auditor", dt.timedelta(hours=1)).token
    )
    assert [c.name for c in auditor.BatchGetClients(request).clients] == ["clients/batch-lab"]


# -- bulk seeding ---------------------------------------------------------------------------


def test_seeded_clients_read_back_like_created_ones(env: Env) -> None:
    watched = google(neutrality_policy=policy("meta", "openai"))
    watched.neutrality_policy.restricted_parties.append("organizations/sanctioned-co")
    made = {
        "created-a": google(),
        "created-b": google(organization="", neutrality_policy=watched.neutrality_policy),
    }
    for client_id, client in made.items():
        create(env.admin, client_id, client)
    progress: list[tuple[int, int]] = []
    database = Database(make_engine(env.database_url))
    loaded = seeding.load_clients(
        database,
        [(ClientName(f"seeded-{k.removeprefix('created-')}"), c) for k, c in made.items()],
        progress=lambda done, total: progress.append((done, total)),
    )
    assert loaded == 2
    assert progress[-1] == (2, 2)

    def comparable(client: pb.Client) -> pb.Client:
        copy = pb.Client()
        copy.CopyFrom(client)
        copy.name = client.name.replace("seeded-", "").replace("created-", "")
        copy.ClearField("create_time")
        copy.ClearField("update_time")
        return copy

    for suffix in ("a", "b"):
        created = env.admin.GetClient(pb.GetClientRequest(name=f"clients/created-{suffix}"))
        seeded = env.admin.GetClient(pb.GetClientRequest(name=f"clients/seeded-{suffix}"))
        assert comparable(seeded) == comparable(created)
        assert seeded.revision == 1
        assert seeded.update_time == seeded.create_time
    listed = env.admin.ListClients(
        pb.ListClientsRequest(competitors_any=["organizations/sanctioned-co"])
    )
    assert [c.name for c in listed.clients] == ["clients/created-b", "clients/seeded-b"]
    listed = env.admin.ListClients(pb.ListClientsRequest(competitors_any=["organizations/meta"]))
    assert [c.name for c in listed.clients] == [
        "clients/created-a",
        "clients/created-b",
        "clients/seeded-a",
        "clients/seeded-b",
    ]
    # Nothing announced: only the two CreateClients reached the outbox.
    assert len(env.outbox()) == 2
    # A seeded client is an ordinary one: updates continue its revisions.
    updated = env.admin.UpdateClient(
        pb.UpdateClientRequest(
            client=pb.Client(name="clients/seeded-a", display_name="Renamed"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        )
    )
    assert updated.revision == 2
    # A deleted id seeded again continues past its tombstone.
    env.admin.DeleteClient(pb.DeleteClientRequest(name="clients/seeded-a"))
    seeding.load_clients(database, [(ClientName("seeded-a"), google())])
    assert env.admin.GetClient(pb.GetClientRequest(name="clients/seeded-a")).revision == 4
    database.close()


def test_a_bad_or_taken_client_refuses_the_whole_load(env: Env) -> None:
    create(env.admin, "taken")
    database = Database(make_engine(env.database_url))
    bad = google(display_name="")
    with pytest.raises(InvalidArgument) as invalid:
        seeding.load_clients(
            database, [(ClientName("fine-1"), google()), (ClientName("fine-2"), bad)]
        )
    assert [v.field for v in invalid.value.violations] == ["clients[1].display_name"]
    with pytest.raises(InvalidArgument):
        seeding.load_clients(
            database, [(ClientName("twice"), google()), (ClientName("twice"), google())]
        )
    with pytest.raises(AlreadyExists) as taken:
        seeding.load_clients(
            database, [(ClientName("fine-1"), google()), (ClientName("taken"), google())]
        )
    assert "clients/taken" in str(taken.value)
    database.close()
    listed = env.admin.ListClients(pb.ListClientsRequest())
    assert [c.name for c in listed.clients] == ["clients/taken"]


# -- the process ----------------------------------------------------------------------


def test_module_runs_the_server_and_stops_on_sigterm(tmp_path: Path, token_secret: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DPM_TOKEN_SECRET": token_secret,
        "DPM_DATA_DIR": str(tmp_path),
        "DPM_HOST": "127.0.0.1",
        "DPM_PORT": str(port),
        "DPM_SHUTDOWN_GRACE_SECONDS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "dpm.requirements.server"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        health = health_pb2_grpc.HealthStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline and status != health_pb2.HealthCheckResponse.SERVING:
            try:
                status = health.Check(
                    health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=1
                ).status
            except grpc.RpcError:
                time.sleep(0.1)
        assert status == health_pb2.HealthCheckResponse.SERVING
        stub = Stub(open_channel(f"127.0.0.1:{port}", auth.admin_token(token_secret), 5))
        assert stub.ListClients(pb.ListClientsRequest()).clients == []
        assert (tmp_path / "requirements.db").exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()
