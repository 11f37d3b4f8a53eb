"""Catalog server bootstrap: its database, the outbox relay, the servicers (catalog, BODS,
the audit log of its writes).

DPM_TOKEN_SECRET=... python -m dpm.catalog.server
"""

from __future__ import annotations

from dpm.audit.v1 import audit_pb2, audit_pb2_grpc
from dpm.catalog.bods_servicer import BodsServicer
from dpm.catalog.servicer import CatalogServicer
from dpm.catalog.settings import CatalogSettings
from dpm.catalog.store import MIGRATIONS_DIR
from dpm.catalog.store.models import AuditRow, OutboxRow
from dpm.catalog.upstream import with_upstream
from dpm.catalog.v1 import bods_pb2, bods_pb2_grpc, catalog_pb2, catalog_pb2_grpc
from dpm.platform.audit import AuditServicer, AuditSpec, full_method, no_resource
from dpm.platform.grpc_server import RunningServer
from dpm.platform.names import OrganizationName, OwnershipEventName
from dpm.platform.outbox import Publisher
from dpm.platform.service import Binding, Parts, ServiceSpec, serve, start

CATALOG = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"]
BODS = bods_pb2.DESCRIPTOR.services_by_name["BodsService"]
# The methods that write, and the resource each call names (dpm.platform.audit).
AUDITED = {
    full_method(CATALOG, "CreateOrganization"): lambda request, _: str(
        OrganizationName(request.organization_id)
    ),
    full_method(CATALOG, "UpdateOrganization"): lambda request, _: request.organization.name,
    full_method(CATALOG, "UpdateVendorProfile"): lambda request, _: request.vendor_profile.name,
    full_method(CATALOG, "RecordOwnershipEvent"): lambda request, _: str(
        OwnershipEventName(request.event.event_id)
    ),
    full_method(BODS, "ImportBodsStatements"): no_resource,
}

SPEC = ServiceSpec(
    name="catalog",
    service=CATALOG,
    add_servicer=catalog_pb2_grpc.add_CatalogServiceServicer_to_server,
    settings=CatalogSettings,
    migrations=MIGRATIONS_DIR,
    more=(
        Binding(BODS, bods_pb2_grpc.add_BodsServiceServicer_to_server),
        Binding(
            audit_pb2.DESCRIPTOR.services_by_name["AuditService"],
            audit_pb2_grpc.add_AuditServiceServicer_to_server,
        ),
    ),
    audit=AuditSpec(AuditRow, AUDITED),
)


def create_server(settings: CatalogSettings, publisher: Publisher | None = None) -> RunningServer:
    def servicers(parts: Parts) -> tuple[CatalogServicer, BodsServicer, AuditServicer]:
        relay = parts.outbox_relay(OutboxRow, publisher, with_upstream)
        return (
            CatalogServicer(
                parts.database, settings.token_secret, on_commit=relay.notify, writes=parts.writes
            ),
            BodsServicer(parts.database, on_commit=relay.notify),
            AuditServicer(
                parts.audit_log, audit_pb2.ListAuditEntriesResponse, settings.token_secret
            ),
        )

    return start(SPEC, settings, servicers)


def main() -> None:
    serve(SPEC, create_server)


if __name__ == "__main__":
    main()
