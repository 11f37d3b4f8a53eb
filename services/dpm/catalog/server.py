"""Catalog server bootstrap: its database, the outbox relay, the servicers (catalog, BODS).

DPM_TOKEN_SECRET=... python -m dpm.catalog.server
"""

from __future__ import annotations

from dpm.catalog.bods_servicer import BodsServicer
from dpm.catalog.servicer import CatalogServicer
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.store import MIGRATIONS_DIR
from dpm.catalog.store.models import OutboxRow
from dpm.catalog.v1 import bods_pb2, bods_pb2_grpc, catalog_pb2, catalog_pb2_grpc
from dpm.platform.grpc_server import RunningServer
from dpm.platform.outbox import Publisher
from dpm.platform.service import Binding, Parts, ServiceSpec, serve, start

SPEC = ServiceSpec(
    name="catalog",
    service=catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"],
    add_servicer=catalog_pb2_grpc.add_CatalogServiceServicer_to_server,
    settings=CatalogSettings,
    migrations=MIGRATIONS_DIR,
    more=(
        Binding(
            bods_pb2.DESCRIPTOR.services_by_name["BodsService"],
            bods_pb2_grpc.add_BodsServiceServicer_to_server,
        ),
    ),
)


def create_server(settings: CatalogSettings, publisher: Publisher | None = None) -> RunningServer:
    def servicers(parts: Parts) -> tuple[CatalogServicer, BodsServicer]:
        relay = parts.outbox_relay(OutboxRow, publisher)
        return (
            CatalogServicer(parts.database, settings.token_secret, on_commit=relay.notify),
            BodsServicer(parts.database, on_commit=relay.notify),
        )

    return start(SPEC, settings, servicers)


def main() -> None:
    serve(SPEC, create_server)


if __name__ == "__main__":
    main()
