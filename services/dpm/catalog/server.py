"""Catalog server bootstrap: migrate, wire storage, outbox relay and servicer, serve.

DPM_TOKEN_SECRET=... python -m dpm.catalog.server
"""

from __future__ import annotations

from dpm.catalog.servicer import CatalogServicer
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.store import MIGRATIONS_DIR
from dpm.catalog.store.models import OutboxRow
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.platform import db
from dpm.platform.config import load
from dpm.platform.grpc_server import RunningServer, build_server, serve
from dpm.platform.outbox import OutboxRelay, Publisher, celery_publisher

SERVICE_NAME = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name


def create_server(settings: CatalogSettings, publisher: Publisher | None = None) -> RunningServer:
    url = settings.resolved_database_url("catalog")
    if settings.migrate_on_start:
        db.migrate(url, MIGRATIONS_DIR)
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    relay = OutboxRelay(
        sessions,
        OutboxRow,
        publisher or celery_publisher(settings.celery_broker_url),
        poll_seconds=settings.outbox_poll_seconds,
    )
    relay.start()
    servicer = CatalogServicer(sessions, settings.token_secret, on_commit=relay.notify)

    def readiness() -> str | None:
        try:
            db.ping(engine)
        except Exception as exc:
            return f"database: {type(exc).__name__}"
        return None

    try:
        running = build_server(
            settings,
            [
                lambda server: catalog_pb2_grpc.add_CatalogServiceServicer_to_server(
                    servicer, server
                )
            ],
            [SERVICE_NAME],
            readiness=readiness,
        )
    except BaseException:
        relay.stop()
        engine.dispose()
        raise
    running.closers.extend([engine.dispose, relay.stop])
    return running


def main() -> None:
    serve("catalog", load(CatalogSettings), create_server)


if __name__ == "__main__":
    main()
