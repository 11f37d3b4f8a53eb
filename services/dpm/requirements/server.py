"""Bootstrap of the requirements server: storage, outbox relay, gRPC.

python -m dpm.requirements.server
"""

from __future__ import annotations

from pathlib import Path

import grpc
from sqlalchemy import Engine

from dpm.platform.config import load
from dpm.platform.db import make_engine, make_sessionmaker, migrate, ping
from dpm.platform.grpc_server import RunningServer, build_server, serve
from dpm.platform.outbox import OutboxRelay, Publisher, celery_publisher
from dpm.requirements.servicer import RequirementsServicer
from dpm.requirements.settings import RequirementsSettings
from dpm.requirements.store.models import OutboxRow
from dpm.requirements.store.repository import ClientStore
from dpm.requirements.v1 import requirements_pb2_grpc

SERVICE_NAME = "dpm.requirements.v1.RequirementsService"
MIGRATIONS = Path(__file__).parent / "store" / "migrations"


def _readiness(engine: Engine) -> str | None:
    try:
        ping(engine)
    except Exception as exc:
        return f"database does not answer: {type(exc).__name__}"
    return None


def create_server(
    settings: RequirementsSettings, publisher: Publisher | None = None
) -> RunningServer:
    url = settings.resolved_database_url("requirements")
    if settings.migrate_on_start:
        migrate(url, MIGRATIONS)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    relay = OutboxRelay(
        sessions,
        OutboxRow,
        publisher or celery_publisher(settings.celery_broker_url),
        settings.outbox_poll_seconds,
    )
    servicer = RequirementsServicer(ClientStore(sessions), settings.token_secret, relay.notify)

    def register(server: grpc.Server) -> None:
        requirements_pb2_grpc.add_RequirementsServiceServicer_to_server(servicer, server)

    try:
        running = build_server(settings, [register], [SERVICE_NAME], lambda: _readiness(engine))
    except BaseException:
        engine.dispose()
        raise
    relay.start()
    running.closers.extend([engine.dispose, relay.stop])  # closed in reverse order
    return running


def main() -> None:
    serve("requirements", load(RequirementsSettings), create_server)


if __name__ == "__main__":
    main()
