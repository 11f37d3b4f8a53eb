"""Building and running a dpmatch gRPC server.

``build_server`` is what tests use (port 0, no signals); ``serve`` adds the
process concerns: readiness probing, SIGTERM handling and graceful shutdown.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import filters, server_interceptor

from dpm.platform.audit import Auditor
from dpm.platform.auth import Verifier
from dpm.platform.config import ServerSettings
from dpm.platform.files import restrict_new_files
from dpm.platform.interceptors import ServiceInterceptor
from dpm.platform.limits import CallLimiter
from dpm.platform.logs import configure_logging
from dpm.platform.telemetry import configure_telemetry, shutdown_telemetry
from dpm.platform.tls import server_credentials, tokens_need_tls

log = logging.getLogger(__name__)

# Registers a servicer on a server, e.g. catalog_pb2_grpc.add_CatalogServiceServicer_to_server.
Registrar = Callable[[grpc.Server], None]
# Returns None when every dependency answers, else what is missing.
ReadinessCheck = Callable[[], str | None]
# Health entry that says only "the process is alive" (for liveness probes): a
# dependency outage makes a server not ready, and restarting it would not help.
LIVENESS = "liveness"
S = TypeVar("S", bound=ServerSettings)


class ServerBackend(Protocol):
    """What RunningServer drives: the synchronous server here, or ``aio_server.AioBackend``."""

    def set_health(self, name: str, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
        """Set one entry of the server's health service."""

    def stop(self, grace: float) -> None:
        """Refuse new calls, give in-flight ones ``grace`` seconds, and return once stopped."""


class SyncBackend:
    def __init__(self, server: grpc.Server, health_servicer: health.HealthServicer) -> None:
        self.server = server
        self._health = health_servicer

    def set_health(self, name: str, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
        self._health.set(name, status)

    def stop(self, grace: float) -> None:
        self._health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


@dataclass
class RunningServer:
    backend: ServerBackend
    port: int
    service_names: list[str]
    # Called after the server stopped: close pools, stop relays.
    closers: list[Callable[[], None]] = field(default_factory=list)
    _stopped: threading.Event = field(default_factory=threading.Event)

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ["", *self.service_names]:
            self.backend.set_health(name, status)

    def stop(self, grace: float) -> None:
        self._stopped.set()
        self.backend.stop(grace)
        for close in reversed(self.closers):
            close()


def announce_plaintext(settings: ServerSettings) -> bool:
    """Whether bearer tokens need TLS on this server (warned about once when they do)."""
    need_tls = tokens_need_tls(settings, settings.host)
    if need_tls:
        log.warning(
            "plaintext on %s: bearer tokens from other hosts are refused (set DPM_TLS_CERT and "
            "DPM_TLS_KEY, or DPM_ALLOW_PLAINTEXT_TOKENS=true where a mesh encrypts the hop)",
            settings.host,
        )
    return need_tls


def listen(server: grpc.Server | grpc.aio.Server, settings: ServerSettings) -> int:
    """Add the server's port, TLS when the settings name a certificate; the port bound."""
    address = f"{settings.host}:{settings.port}"
    credentials = server_credentials(settings)
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    if port == 0:
        raise SystemExit(f"dpmatch: cannot listen on {settings.host}:{settings.port}")
    return port


# Channel options of every server.
SERVER_OPTIONS = [
    ("grpc.so_reuseport", 0),
    # Clients reconnect (and re-resolve) at least this often, so new
    # replicas get traffic after a scale-out.
    ("grpc.max_connection_age_ms", 300_000),
    # Calls in progress then get this long to finish: a whole register's graph takes
    # minutes to read (cut after 30 s, the read started over and over at 10^6).
    ("grpc.max_connection_age_grace_ms", 900_000),
]


def build_server(
    settings: ServerSettings,
    registrars: Iterable[Registrar],
    service_names: list[str],
    readiness: ReadinessCheck,
    verifier: Verifier,
    limiter: CallLimiter | None = None,
    auditor: Auditor | None = None,
) -> RunningServer:
    """Create and start a server with health, reflection, auth, tracing and, when the
    settings name a certificate, TLS (``dpm.platform.tls``).

    Health says NOT_SERVING until ``readiness`` finds every dependency answering;
    ``verifier`` accepts or refuses each call's bearer token; ``limiter`` bounds
    each caller's calls and streams; ``auditor`` records the calls of the
    methods that write.
    """
    need_tls = announce_plaintext(settings)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.max_workers),
        interceptors=[
            server_interceptor(filter_=filters.negate(filters.health_check())),
            ServiceInterceptor(verifier, need_tls, auditor, limiter),
        ],
        options=SERVER_OPTIONS,
    )
    for register in registrars:
        register(server)
    health_servicer = health.HealthServicer(
        experimental_non_blocking=True,
        experimental_thread_pool=futures.ThreadPoolExecutor(max_workers=2),
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    port = listen(server, settings)
    server.start()
    return started(SyncBackend(server, health_servicer), port, service_names, readiness)


def started(
    backend: ServerBackend, port: int, service_names: list[str], readiness: ReadinessCheck
) -> RunningServer:
    """The running server, NOT_SERVING until ``readiness`` passes; liveness SERVING at once."""
    running = RunningServer(backend, port, service_names)
    running.set_serving(False)
    backend.set_health(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
    watch_readiness(running, readiness)
    return running


def watch_readiness(
    running: RunningServer, check: ReadinessCheck, interval: float = 1.0
) -> threading.Thread:
    """Report SERVING only while every dependency answers (re-checked every interval)."""

    def loop() -> None:
        last: str | None = "starting"
        while not running._stopped.wait(0 if last == "starting" else interval):
            try:
                problem = check()
            except Exception as exc:  # a readiness probe must never crash the server
                problem = f"{type(exc).__name__}: {exc}"
            if problem != last:
                if problem:
                    log.warning("not ready: %s", problem)
                else:
                    log.info("ready: serving on port %d", running.port)
                # Only on a change: on an asyncio server each update is a trip through
                # the event loop, which serves the calls meanwhile.
                running.set_serving(problem is None)
            last = problem

    thread = threading.Thread(target=loop, name="readiness", daemon=True)
    thread.start()
    return thread


def serve_until_stopped(service: str, settings: S, create: Callable[[S], RunningServer]) -> None:
    """Process entry point of a server: logs, telemetry, run until SIGTERM, drain, exit."""
    restrict_new_files()
    configure_logging(service, settings.log_level)
    configure_telemetry(f"dpm-{service}", settings.metrics_port, settings.metrics_host)
    running = create(settings)
    # What start-up loaded (modules, descriptors, clients: ~140,000 objects) lives as long
    # as the process: out of the collector's sight, a full collection no longer walks it.
    # Measured: 65-90 ms per full collection before, every call in flight waiting on it.
    gc.freeze()
    log.info(
        "%s listening on %s:%d (%s)",
        service,
        settings.host,
        running.port,
        "TLS" if settings.serves_tls else "plaintext",
    )
    wait_for_termination(running, settings.shutdown_grace_seconds)
    log.info("%s stopped", service)
    shutdown_telemetry()


def wait_for_termination(running: RunningServer, grace: float) -> None:
    """Block until SIGTERM or SIGINT, then drain in-flight calls and stop."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    running.stop(grace)
