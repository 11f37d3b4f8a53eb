"""A dpmatch server on ``grpc.aio``, run on an event loop of its own thread.

The rest of the process (readiness probing, signals, tests) stays
synchronous and drives the server through ``AioBackend``. Calls are
coroutines on that loop: a stream waiting for news holds no thread, and the
servicer hands blocking work to a thread pool of ``max_workers`` threads
(``Parts.pool``). Health, reflection, tracing, authentication and the
per-caller limits are those of the threaded servers.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer as AioHealthServicer
from grpc_reflection.v1alpha import reflection

from dpm.platform.aio_interceptors import CallGuard, GuardedServer
from dpm.platform.auth import Verifier
from dpm.platform.config import ServerSettings
from dpm.platform.grpc_server import (
    SERVER_OPTIONS,
    ReadinessCheck,
    RunningServer,
    announce_plaintext,
    listen,
    started,
)
from dpm.platform.limits import CallLimiter

T = TypeVar("T")
# Registers a servicer's generic handlers (guarded: traced, authenticated, limited).
AioRegistrar = Callable[[GuardedServer], None]


class EventLoopThread:
    """An event loop running forever on a daemon thread, fed from other threads."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


class AioBackend:
    def __init__(
        self,
        loop: EventLoopThread,
        server: grpc.aio.Server,
        health_servicer: AioHealthServicer,
    ) -> None:
        self._loop = loop
        self._server = server
        self._health = health_servicer

    def set_health(self, name: str, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
        self._loop.run(self._health.set(name, status), timeout=5)

    def stop(self, grace: float) -> None:
        async def stop() -> None:
            await self._health.enter_graceful_shutdown()
            await self._server.stop(grace)

        self._loop.run(stop(), timeout=grace + 10)


def build_aio_server(
    settings: ServerSettings,
    registrars: Iterable[AioRegistrar],
    service_names: list[str],
    readiness: ReadinessCheck,
    verifier: Verifier,
    limiter: CallLimiter,
    loop: EventLoopThread,
) -> RunningServer:
    """Create and start an asyncio server on ``loop`` (its owner closes the loop after
    the server stopped); otherwise like ``grpc_server.build_server``."""
    need_tls = announce_plaintext(settings)

    async def build() -> tuple[grpc.aio.Server, AioHealthServicer, int]:
        server = grpc.aio.server(
            # No interceptors: CallGuard wraps the handlers once, at registration.
            options=SERVER_OPTIONS,
        )
        guarded = GuardedServer(server, CallGuard(verifier, need_tls, limiter))
        for register in registrars:
            register(guarded)
        health_servicer = AioHealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        port = listen(server, settings)
        await server.start()
        return server, health_servicer, port

    server, health_servicer, port = loop.run(build(), timeout=30)
    backend = AioBackend(loop, server, health_servicer)
    return started(backend, port, service_names, readiness)
