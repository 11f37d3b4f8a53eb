"""One shape for every server: a spec each service fills in, and what it needs opened.

A service's ``server.py`` declares a ``ServiceSpec`` (its gRPC service from
the descriptor, how to register the servicer, its migrations, the upstream
services it calls) and a function that builds the servicer from the opened
``Parts``. ``start`` opens the parts, builds and starts the server, and closes
everything it opened if any step fails; ``serve`` is the process entry point.
Every server gets the token revocation list (``Parts.revocations``, followed
from Redis; not ready until read once) and checks each call's token against it.

    SPEC = ServiceSpec(
        name="catalog",
        service=catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"],
        add_servicer=catalog_pb2_grpc.add_CatalogServiceServicer_to_server,
        settings=CatalogSettings,
        migrations=MIGRATIONS_DIR,
    )

    def create_server(settings):
        return start(SPEC, settings, lambda parts: CatalogServicer(parts.database, ...))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import grpc
import redis
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dpm.platform import auth, queue_depth
from dpm.platform.aio_server import EventLoopThread, build_aio_server
from dpm.platform.audit import AuditLog, Auditor, AuditSpec
from dpm.platform.config import DatabaseSettings, ServerSettings, load
from dpm.platform.db import Database
from dpm.platform.events import Queue
from dpm.platform.group_commit import GroupCommit
from dpm.platform.grpc_client import open_channel
from dpm.platform.grpc_server import RunningServer, build_server, serve_until_stopped
from dpm.platform.limits import CallLimiter, Limits
from dpm.platform.outbox import (
    OutboxMixin,
    OutboxRelay,
    Preparer,
    Publisher,
    as_written,
    celery_publisher,
)
from dpm.platform.revocations import RevocationFollower, RevocationList, RevocationStore

S = TypeVar("S", bound=ServerSettings)
# Returns None when the dependency answers, else what is wrong.
Check = Callable[[], str | None]


@dataclass(frozen=True)
class Binding:
    """Another gRPC service the same server serves (e.g. catalog's BodsService)."""

    service: ServiceDescriptor
    add_servicer: Callable[[Any, grpc.Server], None]


@dataclass(frozen=True)
class ServiceSpec:
    # Short name: process, log and telemetry name ("catalog"), and its data file.
    name: str
    service: ServiceDescriptor
    # The generated add_<Service>Servicer_to_server (grpc.aio.Server on asyncio).
    add_servicer: Callable[[Any, Any], None]
    # Its settings class (environment variables with the DPM_ prefix).
    settings: type[ServerSettings]
    # Alembic migrations of the service's own database; None when it owns none.
    migrations: Path | None = None
    # Services it calls: short name -> full gRPC service name. The address comes
    # from the settings (DPM_<NAME>_ADDR); the server is ready only while each answers SERVING.
    upstreams: Mapping[str, str] = field(default_factory=dict)
    # Further services on the same server and port; the servicer factory then
    # returns a tuple: the main servicer first, then one per binding, in order.
    more: tuple[Binding, ...] = ()
    # Its writing methods and its audit table (needs migrations): every call of
    # those methods is recorded (``dpm.platform.audit``, read through AuditService).
    audit: AuditSpec | None = None
    # Serve on grpc.aio (``dpm.platform.aio_server``): the servicer's methods are
    # coroutines, streams hold no thread, blocking work goes to ``Parts.pool``.
    asyncio: bool = False

    @property
    def bindings(self) -> tuple[Binding, ...]:
        return (Binding(self.service, self.add_servicer), *self.more)


class Parts:
    """What a server opened for its servicer; closed in reverse order of opening."""

    def __init__(self, spec: ServiceSpec, settings: ServerSettings) -> None:
        self._spec = spec
        self._settings = settings
        self._checks: list[Check] = []
        self._closers: list[Callable[[], None]] = []
        self._database: Database | None = None
        self._writes: GroupCommit | None = None
        self.channels: dict[str, grpc.Channel] = {}
        self.token_keys = settings.token_keys()
        self.revocations = RevocationList()
        self._revocation_store: RevocationStore | None = None
        self._audit_log: AuditLog | None = None
        self.limiter = CallLimiter(Limits.for_settings(settings, threaded=not spec.asyncio))
        self._loop: EventLoopThread | None = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def loop(self) -> EventLoopThread:
        """The event loop an asyncio server runs on (``ServiceSpec.asyncio``)."""
        if self._loop is None:
            if not self._spec.asyncio:
                raise RuntimeError(f"{self._spec.name} is a threaded server: it has no event loop")
            self._loop = EventLoopThread(f"{self._spec.name}-aio")
            self.on_close(self._loop.close)
        return self._loop

    @property
    def pool(self) -> ThreadPoolExecutor:
        """Threads an asyncio server's blocking work runs on (``max_workers`` of them)."""
        if self._pool is None:
            pool = ThreadPoolExecutor(self._settings.max_workers, f"{self._spec.name}-work")
            self._pool = pool
            self.on_close(lambda: pool.shutdown(wait=False, cancel_futures=True))
        return self._pool

    @property
    def database(self) -> Database:
        if self._database is None:
            raise RuntimeError(f"{self._spec.name} declares no migrations: it owns no database")
        return self._database

    @property
    def writes(self) -> GroupCommit:
        """The database's writers queue here, and those queued together commit together."""
        if self._writes is None:
            self._writes = GroupCommit(self.database)
        return self._writes

    @property
    def audit_log(self) -> AuditLog:
        """The service's audit table (``ServiceSpec.audit``)."""
        if self._audit_log is None:
            if self._spec.audit is None:
                raise RuntimeError(f"{self._spec.name} declares no audit table")
            self._audit_log = AuditLog(self.database, self._spec.audit.model)
        return self._audit_log

    @property
    def revocation_store(self) -> RevocationStore:
        """The shared revocation list in Redis (the requirements server writes to it)."""
        assert self._revocation_store is not None, "open() first"
        return self._revocation_store

    def open(self) -> None:
        self._follow_revocations()
        if self._spec.migrations is not None:
            if not isinstance(self._settings, DatabaseSettings):
                raise TypeError(f"{self._spec.name} needs DatabaseSettings for its database")
            url = self._settings.resolved_database_url(self._spec.name)
            database = Database.open(
                url, self._spec.migrations if self._settings.migrate_on_start else None
            )
            self._database = database
            self.on_close(database.close)
            self.check(lambda: _answers("database", database.ping))
        token = auth.ServiceTokens(self.token_keys, self._spec.name)
        for name, full_name in self._spec.upstreams.items():
            address = getattr(self._settings, f"{name}_addr")
            channel = open_channel(
                address, token, self._settings.rpc_timeout_seconds, tls=self._settings
            )
            self.channels[name] = channel
            self.on_close(channel.close)
            self.check(_upstream_check(name, channel, full_name))

    def _follow_revocations(self) -> None:
        # No ping readiness check: once loaded, a Redis outage keeps the last list (logged).
        client = redis.Redis.from_url(
            self._settings.redis_url, socket_timeout=5.0, socket_connect_timeout=2.0
        )
        self.on_close(client.close)
        self._revocation_store = RevocationStore(client, self._settings.revocation_prefix)
        follower = RevocationFollower(
            self._revocation_store, self.revocations, self._settings.revocation_refresh_seconds
        )
        follower.start()
        self.on_close(follower.stop)
        self.check(follower.readiness)

    def verifier(self) -> auth.Verifier:
        """Checks each call's token: signature, expiry, this server's revocation list."""
        return auth.Verifier(self.token_keys, self.revocations)

    def on_close(self, close: Callable[[], None]) -> None:
        self._closers.append(close)

    def check(self, check: Check) -> None:
        """Add a readiness check: health says SERVING only while every check passes."""
        self._checks.append(check)

    def redis(self, url: str, socket_timeout: float = 5.0) -> redis.Redis:
        client = redis.Redis.from_url(url, socket_timeout=socket_timeout)
        self.on_close(client.close)
        self.check(lambda: _answers("redis", client.ping))
        return client

    def outbox_relay(
        self,
        model: type[OutboxMixin],
        publisher: Publisher | None,
        prepare: Preparer = as_written,
    ) -> OutboxRelay:
        """Start the relay that publishes the database's outbox rows to the broker."""
        settings = self._settings
        assert isinstance(settings, DatabaseSettings)
        relay = OutboxRelay(
            self.database.sessions,
            model,
            publisher or celery_publisher(settings.celery_broker_url, settings.deployment),
            poll_seconds=settings.outbox_poll_seconds,
            prepare=prepare,
            read_sessions=self.database.read_sessions,
            write=self.writes.write,
            linger_seconds=settings.outbox_linger_seconds,
        )
        relay.start()
        self.on_close(relay.stop)
        if publisher is None:  # a real broker: report how much work waits there
            depth = queue_depth.watch(
                settings.celery_broker_url, [q.in_deployment(settings.deployment) for q in Queue]
            )
            self.on_close(depth.close)
        return relay

    def readiness(self) -> str | None:
        for check in self._checks:
            problem = check()
            if problem:
                return problem
        return None

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()


def _answers(what: str, ping: Callable[[], object]) -> str | None:
    try:
        ping()
    except Exception as exc:
        return f"{what}: {type(exc).__name__}"
    return None


# An upstream that has answered before and now only answers late (busy: a whole
# register's graph being read kept the catalog's probe waiting past its second) is
# still counted ready for this many probes in a row; a refusal or NOT_SERVING counts
# at once.
LATE_PROBES_TOLERATED = 3


def _upstream_check(name: str, channel: grpc.Channel, service: str, timeout: float = 1.0) -> Check:
    stub = health_pb2_grpc.HealthStub(channel)
    answered = False
    late = 0

    def check() -> str | None:
        nonlocal answered, late
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code()
            if code is grpc.StatusCode.DEADLINE_EXCEEDED and answered:
                late += 1
                if late <= LATE_PROBES_TOLERATED:
                    return None
            return f"{name}: {code.name}"
        answered, late = True, 0
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            return f"{name}: not serving"
        return None

    return check


def start(spec: ServiceSpec, settings: S, make_servicer: Callable[[Parts], Any]) -> RunningServer:
    """Open the parts, build the servicer, start serving; on any failure close what was opened."""
    parts = Parts(spec, settings)
    try:
        parts.open()
        made = make_servicer(parts)
        servicers = made if spec.more else (made,)
        if len(servicers) != len(spec.bindings):
            raise TypeError(f"{spec.name}: expected {len(spec.bindings)} servicers")
        registrars = [
            partial(binding.add_servicer, servicer)
            for binding, servicer in zip(spec.bindings, servicers, strict=True)
        ]
        names = [binding.service.full_name for binding in spec.bindings]
        if spec.asyncio:
            if spec.audit:
                raise TypeError(f"{spec.name}: asyncio servers do not audit (they do not write)")
            running = build_aio_server(
                settings,
                registrars,
                names,
                parts.readiness,
                parts.verifier(),
                parts.limiter,
                parts.loop,
            )
        else:
            running = build_server(
                settings,
                registrars,
                names,
                readiness=parts.readiness,
                verifier=parts.verifier(),
                limiter=parts.limiter,
                auditor=Auditor(spec.audit, parts.audit_log) if spec.audit else None,
            )
    except BaseException:
        parts.close()
        raise
    running.closers.append(parts.close)
    return running


def serve(spec: ServiceSpec, create: Callable[[Any], RunningServer]) -> None:
    """Process entry point of a server (``python -m dpm.<service>.server``)."""
    serve_until_stopped(spec.name, load(spec.settings), create)
