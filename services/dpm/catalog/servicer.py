"""CatalogService: proto in, domain call, proto out. Writes need the admin token.

Request names are parsed here into typed names (``dpm.platform.names``); each
call is one unit of work on the catalog ``Database``: ``write()`` for changes
(then the outbox relay is woken), ``read()`` for reads.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc
from sqlalchemy.orm import Session

from dpm.catalog import (
    graph,
    ledger,
    organizations,
    simulation,
    vendor_filter,
    vendor_profiles,
)
from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.auth import current_principal, require_admin
from dpm.platform.dates import parse_date
from dpm.platform.db import Database
from dpm.platform.errors import InvalidArgument
from dpm.platform.group_commit import GroupCommit
from dpm.platform.names import OrganizationName, OwnershipEventName, VendorProfileName
from dpm.platform.pagination import PageTokens, page_size
from dpm.platform.telemetry import ledger_events

T = TypeVar("T")

log = logging.getLogger(__name__)


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(
        self,
        database: Database,
        token_secret: str,
        on_commit: Callable[[], None] = lambda: None,
        writes: GroupCommit | None = None,
    ) -> None:
        self._database = database
        self._tokens = PageTokens(token_secret, "catalog")
        # Called after a commit that added outbox rows (wakes the relay).
        self._on_commit = on_commit
        # Writes are serialized anyway (SQLite takes one writer at a time, PostgreSQL
        # queues them on the counters row lock): this server's writers queue here, and
        # those that arrive together commit together (one sync to disk, not one each),
        # with the outbox relay's marks when it shares them (``Parts.writes``).
        self._writes = writes or GroupCommit(database)

    def _write(self, work: Callable[[Session], T]) -> T:
        require_admin()
        result = self._writes.write(work)
        self._on_commit()
        return result

    def _read(self, work: Callable[[Session], T]) -> T:
        current_principal()
        with self._database.read() as session:
            return work(session)

    # ------------------------------------------------------------ organizations

    def CreateOrganization(
        self, request: catalog_pb2.CreateOrganizationRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.Organization:
        return self._write(
            lambda s: organizations.create(s, request.organization_id, request.organization)
        )

    def GetOrganization(
        self, request: catalog_pb2.GetOrganizationRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.Organization:
        name = OrganizationName.parse(request.name, "name")
        return self._read(lambda s: organizations.get(s, name))

    def ListOrganizations(
        self, request: catalog_pb2.ListOrganizationsRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListOrganizationsResponse:
        size = page_size(request.page_size)
        query = {"list": "organizations", "kind": int(request.kind)}
        after = self._tokens.read(request.page_token, query)
        if after is not None and not isinstance(after, str):
            raise InvalidArgument.one("page_token", "is malformed")
        rows = self._read(lambda s: organizations.list_page(s, int(request.kind), after, size + 1))
        response = catalog_pb2.ListOrganizationsResponse(organizations=rows[:size])
        if len(rows) > size:
            last = OrganizationName.trusted(rows[size - 1].name)
            response.next_page_token = self._tokens.issue(last.id, query)
        return response

    def UpdateOrganization(
        self, request: catalog_pb2.UpdateOrganizationRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.Organization:
        name = OrganizationName.parse(request.organization.name, "organization.name")
        paths = list(request.update_mask.paths)
        return self._write(lambda s: organizations.update(s, name, request.organization, paths))

    # ---------------------------------------------------------- vendor profiles

    def GetVendorProfile(
        self, request: catalog_pb2.GetVendorProfileRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.VendorProfile:
        name = VendorProfileName.parse(request.name, "name")
        return self._read(lambda s: vendor_profiles.get(s, name))

    def ListVendorProfiles(
        self, request: catalog_pb2.ListVendorProfilesRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListVendorProfilesResponse:
        size = page_size(request.page_size)
        matches = vendor_filter.check(request.filter)
        query: dict[str, object] = {"list": "vendorProfiles"}
        if request.HasField("filter"):
            query["filter"] = vendor_filter.fingerprint(request.filter)
        after = self._tokens.read(request.page_token, query)
        if after is not None and not isinstance(after, str):
            raise InvalidArgument.one("page_token", "is malformed")

        def read(s: Session) -> catalog_pb2.ListVendorProfilesResponse:
            version = vendor_profiles.catalog_version(s)
            if request.known_catalog_version and request.known_catalog_version == version:
                # The workers ask before every chunk; the catalog rarely changes.
                return catalog_pb2.ListVendorProfilesResponse(
                    catalog_version=version, not_modified=True
                )
            rows = vendor_profiles.list_page(s, after, size + 1, matches)
            response = catalog_pb2.ListVendorProfilesResponse(
                vendor_profiles=rows[:size], catalog_version=version
            )
            if len(rows) > size:
                last = VendorProfileName.trusted(rows[size - 1].name)
                response.next_page_token = self._tokens.issue(last.id, query)
            return response

        return self._read(read)

    def UpdateVendorProfile(
        self, request: catalog_pb2.UpdateVendorProfileRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.VendorProfile:
        name = VendorProfileName.parse(request.vendor_profile.name, "vendor_profile.name")
        paths = list(request.update_mask.paths)
        return self._write(
            lambda s: vendor_profiles.update(
                s, name, request.vendor_profile, paths, request.allow_missing
            )
        )

    # ------------------------------------------------------------------- ledger

    def RecordOwnershipEvent(
        self, request: catalog_pb2.RecordOwnershipEventRequest, context: grpc.ServicerContext
    ) -> ownership_pb2.OwnershipEvent:
        recorded = self._write(lambda s: ledger.record_event(s, request.event))
        event = recorded.event
        if recorded.written:
            ledger_events.add(1)
            log.info("ownership event %s is graph version %d", event.event_id, event.graph_version)
        return event

    def SimulateOwnershipEvent(
        self, request: catalog_pb2.SimulateOwnershipEventRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.SimulateOwnershipEventResponse:
        current_principal()  # writes nothing: any caller may ask
        as_of = parse_date(request.as_of, "as_of")

        def simulate(s: Session) -> catalog_pb2.SimulateOwnershipEventResponse:
            # Recorded in a savepoint of the write transaction (so in ledger order, after
            # every write before it), read back, then rolled back: nothing stays.
            savepoint = s.begin_nested()
            try:
                return simulation.outcome(s, request, as_of)
            finally:
                savepoint.rollback()

        return self._writes.write(simulate)

    def GetOwnershipEvent(
        self, request: catalog_pb2.GetOwnershipEventRequest, context: grpc.ServicerContext
    ) -> ownership_pb2.OwnershipEvent:
        name = OwnershipEventName.parse(request.name, "name")
        return self._read(lambda s: ledger.get_event(s, name))

    def ListOwnershipEvents(
        self, request: catalog_pb2.ListOwnershipEventsRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListOwnershipEventsResponse:
        size = page_size(request.page_size)
        org = (
            OrganizationName.parse(request.organization, "organization")
            if request.organization
            else None
        )
        query = {"list": "ownershipEvents", "organization": org.id if org else None}
        after = self._tokens.read(request.page_token, query)
        if after is not None and not isinstance(after, int):
            raise InvalidArgument.one("page_token", "is malformed")
        rows = self._read(lambda s: ledger.list_page(s, org, after, size + 1))
        response = catalog_pb2.ListOwnershipEventsResponse(events=rows[:size])
        if len(rows) > size:
            response.next_page_token = self._tokens.issue(rows[size - 1].graph_version, query)
        return response

    def _export(
        self, request: catalog_pb2.ExportOwnershipGraphRequest
    ) -> ownership_pb2.OwnershipGraph:
        as_of = parse_date(request.as_of, "as_of")
        known_at = None
        if request.HasField("as_known_at"):
            try:
                known_at = request.as_known_at.ToDatetime(tzinfo=dt.UTC)
            except (ValueError, OverflowError):
                raise InvalidArgument.one("as_known_at", "is not a valid timestamp") from None
        return self._read(
            lambda s: graph.export(
                s, as_of, request.if_none_match, known_at, accept_delta=request.accept_delta
            )
        )

    def ExportOwnershipGraph(
        self, request: catalog_pb2.ExportOwnershipGraphRequest, context: grpc.ServicerContext
    ) -> ownership_pb2.OwnershipGraph:
        return graph.one_message(self._export(request))

    def StreamOwnershipGraph(
        self, request: catalog_pb2.ExportOwnershipGraphRequest, context: grpc.ServicerContext
    ) -> Iterator[ownership_pb2.OwnershipGraph]:
        yield from graph.parts(self._export(request))
