"""RequirementsService over gRPC: checks the caller, translates, delegates.

Rules live in ``validation`` and ``updates``; storage and the outbox in
``store.repository``. Errors are domain exceptions, mapped to rich statuses by
the platform interceptor.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc

from dpm.platform import auth
from dpm.platform.errors import Violations
from dpm.platform.names import check_slug, parse_name
from dpm.platform.pagination import PageTokens, page_size
from dpm.requirements import updates
from dpm.requirements.store.repository import ClientStore
from dpm.requirements.v1 import requirements_pb2 as pb
from dpm.requirements.v1 import requirements_pb2_grpc as pb_grpc
from dpm.requirements.validation import is_org_name, org_id, validate_client


class RequirementsServicer(pb_grpc.RequirementsServiceServicer):
    def __init__(
        self, store: ClientStore, token_secret: str, committed: Callable[[], None]
    ) -> None:
        self._store = store
        self._token_secret = token_secret
        self._tokens = PageTokens(token_secret, "requirements.clients")
        self._committed = committed  # wakes the outbox relay after a commit

    def CreateClient(
        self, request: pb.CreateClientRequest, context: grpc.ServicerContext
    ) -> pb.CreateClientResponse:
        auth.require_admin()
        client_id = check_slug(request.client_id, "client_id")
        validate_client(request.client)
        created = self._store.create(client_id, request.client)
        self._committed()
        token = auth.client_token(self._token_secret, created.name)
        return pb.CreateClientResponse(client=created, access_token=token)

    def GetClient(self, request: pb.GetClientRequest, context: grpc.ServicerContext) -> pb.Client:
        auth.require_client_access(request.name)
        return self._store.get(parse_name(request.name, "clients", "name"))

    def ListClients(
        self, request: pb.ListClientsRequest, context: grpc.ServicerContext
    ) -> pb.ListClientsResponse:
        auth.require_trusted()
        v = Violations()
        competitors: set[str] = set()
        for i, name in enumerate(request.competitors_any):
            if v.check(is_org_name(name), f"competitors_any[{i}]", "must be 'organizations/{id}'"):
                competitors.add(org_id(name))
        v.raise_if_any()
        limit = page_size(request.page_size)
        query = sorted(competitors)
        after = self._tokens.read(request.page_token, query)
        clients, more = self._store.list(query, after, limit)
        next_token = self._tokens.issue(clients[-1].name.split("/", 1)[1], query) if more else ""
        return pb.ListClientsResponse(clients=clients, next_page_token=next_token)

    def UpdateClient(
        self, request: pb.UpdateClientRequest, context: grpc.ServicerContext
    ) -> pb.Client:
        name = request.client.name
        auth.require_client_access(name)
        client_id = parse_name(name, "clients", "client.name")
        paths = updates.check_mask(request.update_mask)

        def change(current: pb.Client) -> pb.Client:
            updated = updates.apply_update(current, request.client, paths)
            validate_client(updated)
            return updated

        updated = self._store.update(client_id, change)
        self._committed()
        return updated

    def DeleteClient(
        self, request: pb.DeleteClientRequest, context: grpc.ServicerContext
    ) -> pb.DeleteClientResponse:
        auth.require_admin()
        self._store.delete(parse_name(request.name, "clients", "name"))
        self._committed()
        return pb.DeleteClientResponse()
