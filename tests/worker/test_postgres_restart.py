"""PostgreSQL stopped and restarted under a running catalog, on a private cluster this
test starts (the machine's shared PostgreSQL is not this suite's to restart).

While the database is down every RecordOwnershipEvent is refused with
UNAVAILABLE (never INTERNAL) and writes nothing, health says NOT_SERVING;
once it is back the same server process records again, and the outbox
relay publishes every accepted event to the real broker, none lost.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dpm.catalog.server import create_server as create_catalog
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform import auth
from dpm.platform.config import DEFAULT_DEPLOYMENT
from dpm.platform.embedded_redis import free_port, start_embedded_redis
from dpm.platform.events import OwnershipChanged, Queue
from dpm.platform.grpc_client import open_channel
from tests.conftest import IN_CI
from tests.inprocess import wait_serving

pytestmark = pytest.mark.timeout(180)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


@dataclass
class PrivatePostgres:
    url: str
    start: Callable[[], None]
    stop: Callable[[], None]


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        if IN_CI:
            pytest.fail("CI has no PostgreSQL server binaries (initdb, pg_ctl)")
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    # PostgreSQL refuses to run as root: as root, run it as the postgres user.
    as_user: list[str] = []
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            user = None
        if user is None or shutil.which("runuser") is None:
            if IN_CI:
                pytest.fail("running as root, and no postgres user or runuser to drop to")
            pytest.skip("running as root, and no postgres user or runuser to drop to")
        as_user = ["runuser", "-u", "postgres", "--"]
    home = Path(tempfile.mkdtemp(prefix="dpm-pg-"))
    if user is not None:
        os.chown(home, user.pw_uid, user.pw_gid)
    data, port = home / "data", free_port()
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"

    def ctl(*args: str) -> None:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-l", str(home / "log"), "-w", *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    ctl("-o", options, "start")
    try:
        yield PrivatePostgres(
            url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
            start=lambda: ctl("-o", options, "start"),
            stop=lambda: ctl("-m", "fast", "stop"),
        )
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(home, ignore_errors=True)


def _event(i: int) -> catalog_pb2.RecordOwnershipEventRequest:
    event = ownership_pb2.OwnershipEvent(
        event_id=f"pg-{i}", effective_date=f"2025-01-{1 + i:02d}", source_url="https://x.test/e"
    )
    event.stake_acquired.holder = "organizations/meta"
    event.stake_acquired.held = f"organizations/vendor-{i}"
    event.stake_acquired.equity_fraction = 0.1
    return catalog_pb2.RecordOwnershipEventRequest(event=event)


def _health(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        return int(
            health_pb2_grpc.HealthStub(channel)
            .Check(health_pb2.HealthCheckRequest(), timeout=2)
            .status
        )


def _published(broker: redis.Redis, task: str) -> list[dict[str, Any]]:
    """The kwargs of the ``task`` messages waiting in the deployment's queue."""
    found = []
    for raw in broker.lrange(Queue.REMATCH.in_deployment(DEFAULT_DEPLOYMENT), 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] == task:
            _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            found.append(kwargs)
    return found


def _announced(messages: list[dict[str, Any]]) -> tuple[set[str], int]:
    """The organizations the messages name as changed, and the newest graph version."""
    upstream = {org for m in messages for org in m.get("upstream", [])}
    return upstream, max((m["graph_version"] for m in messages), default=0)


def test_postgresql_restarted_mid_ingest(
    tmp_path: Path, token_secret: str, private_postgres: PrivatePostgres
) -> None:
    broker_redis = start_embedded_redis(tmp_path / "broker")
    catalog = create_catalog(
        CatalogSettings(
            token_secret=token_secret,
            data_dir=tmp_path,
            host="127.0.0.1",
            port=0,
            database_url=private_postgres.url,
            broker_url=broker_redis.url,
            outbox_poll_seconds=0.05,
        )
    )
    address = f"127.0.0.1:{catalog.port}"
    broker = redis.Redis.from_url(broker_redis.url)
    outcomes: dict[str, int] = {}
    try:
        wait_serving(address)
        with open_channel(address, auth.admin_token(token_secret), 10) as channel:
            stub = catalog_pb2_grpc.CatalogServiceStub(channel)
            for slug in ["meta", *(f"vendor-{i}" for i in range(12))]:
                stub.CreateOrganization(
                    catalog_pb2.CreateOrganizationRequest(
                        organization_id=slug,
                        organization=catalog_pb2.Organization(display_name=slug, kind=1),
                    )
                )

            def record(i: int) -> str:
                try:
                    stub.RecordOwnershipEvent(_event(i), timeout=10)
                    code = "OK"
                except grpc.RpcError as err:
                    code = err.code().name
                    assert err.code() is grpc.StatusCode.UNAVAILABLE, err.details()
                    assert "database" in (err.details() or ""), err.details()
                outcomes[code] = outcomes.get(code, 0) + 1
                return code

            assert [record(i) for i in range(4)] == ["OK"] * 4
            private_postgres.stop()
            assert [record(i) for i in range(4, 8)] == ["UNAVAILABLE"] * 4
            deadline = time.monotonic() + 10
            while _health(address) == health_pb2.HealthCheckResponse.SERVING:
                assert time.monotonic() < deadline, "still SERVING with its database down"
                time.sleep(0.2)
            private_postgres.start()
            wait_serving(address, timeout=30)  # the same process, not restarted
            assert [record(i) for i in range(8, 12)] == ["OK"] * 4
            # Refused events wrote nothing; accepted ones are all in the ledger...
            events = stub.ListOwnershipEvents(
                catalog_pb2.ListOwnershipEventsRequest(page_size=100)
            ).events
            recorded = sorted(e.event_id for e in events)
            assert recorded == sorted(f"pg-{i}" for i in (*range(4), *range(8, 12)))
        # ... and all reach the broker once the relay has caught up: every accepted
        # event's organizations, up to the last graph version. (At least once: a row
        # published just as the database went away is sent again; events recorded
        # together may go out merged as one message, ``events.MERGEABLE``.)
        accepted = {f"organizations/vendor-{i}" for i in (*range(4), *range(8, 12))}
        deadline = time.monotonic() + 20
        while True:
            upstream, version = _announced(_published(broker, OwnershipChanged.TASK))
            if accepted <= upstream and version == 8:
                break
            assert time.monotonic() < deadline, _published(broker, OwnershipChanged.TASK)
            time.sleep(0.1)
    finally:
        catalog.stop(0)
        broker_redis.stop()
    print(
        f"\nPostgreSQL stopped and restarted mid-ingest: {sum(outcomes.values())} events in, "
        f"{outcomes.get('OK', 0)} accepted and published, "
        f"{outcomes.get('UNAVAILABLE', 0)} refused UNAVAILABLE, 0 lost"
    )
