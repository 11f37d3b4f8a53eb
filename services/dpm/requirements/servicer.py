"""RequirementsService over gRPC: checks the caller, parses names, delegates.

Rules and storage live in ``clients`` (with ``validation`` and ``updates``);
the SQL in ``store.repository``. Errors are domain exceptions, mapped to rich
statuses by the platform interceptor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import grpc

from dpm.platform import auth
from dpm.platform.db import Database
from dpm.platform.errors import InvalidArgument, Violations
from dpm.platform.names import ClientName, OrganizationName, check_slug, quote
from dpm.platform.pagination import PageTokens, page_size
from dpm.requirements import clients
from dpm.requirements.tokens import TokenRegistry
from dpm.requirements.v1 import requirements_pb2 as pb
from dpm.requirements.v1 import requirements_pb2_grpc as pb_grpc

# Names per BatchGetClients call (the worker's chunk of a re-match).
BATCH_GET_MAX = 1000


def batch_names(values: Sequence[str]) -> list[ClientName]:
    """The client names of a BatchGetClients request; INVALID_ARGUMENT naming each bad one."""
    if len(values) > BATCH_GET_MAX:
        raise InvalidArgument.one(
            "names", f"lists {len(values)} names; at most {BATCH_GET_MAX} are allowed"
        )
    v = Violations()
    names: list[ClientName] = []
    for i, value in enumerate(values):
        if v.check(
            ClientName.matches(value),
            f"names[{i}]",
            f"{quote(value)} must look like {ClientName.template()!r}",
        ):
            names.append(ClientName.trusted(value))
    v.raise_if_any()
    return names


class RequirementsServicer(pb_grpc.RequirementsServiceServicer):
    def __init__(
        self,
        database: Database,
        token_secret: str,
        registry: TokenRegistry,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._database = database
        self._registry = registry
        self._tokens = PageTokens(token_secret, "requirements.clients")
        # Called after a commit that added outbox rows (wakes the relay).
        self._on_commit = on_commit

    def CreateClient(
        self, request: pb.CreateClientRequest, context: grpc.ServicerContext
    ) -> pb.CreateClientResponse:
        auth.require_admin()
        name = ClientName(check_slug(request.client_id, "client_id"))
        created, token = clients.create(self._database, name, request.client, self._registry)
        self._on_commit()
        return pb.CreateClientResponse(client=created, access_token=token)

    def GetClient(self, request: pb.GetClientRequest, context: grpc.ServicerContext) -> pb.Client:
        auth.require_client_access(request.name)
        return clients.get(self._database, ClientName.parse(request.name, "name"))

    def ListClients(
        self, request: pb.ListClientsRequest, context: grpc.ServicerContext
    ) -> pb.ListClientsResponse:
        auth.require_reader()
        v = Violations()
        competitors: set[OrganizationName] = set()
        for i, value in enumerate(request.competitors_any):
            if v.check(
                OrganizationName.matches(value),
                f"competitors_any[{i}]",
                f"must be {OrganizationName.template()!r}",
            ):
                competitors.add(OrganizationName.trusted(value))
        v.raise_if_any()
        limit = page_size(request.page_size)
        # The token carries the last client id of its page and is bound to this filter.
        query = sorted(o.id for o in competitors)
        last = self._tokens.read(request.page_token, query)
        after = None if last is None else ClientName(last)
        page, more = clients.list_page(
            self._database, competitors, after, limit, names_only=request.names_only
        )
        next_token = self._tokens.issue(ClientName.trusted(page[-1].name).id, query) if more else ""
        return pb.ListClientsResponse(clients=page, next_page_token=next_token)

    def BatchGetClients(
        self, request: pb.BatchGetClientsRequest, context: grpc.ServicerContext
    ) -> pb.BatchGetClientsResponse:
        auth.require_reader()
        found, missing = clients.batch_get(self._database, batch_names(request.names))
        return pb.BatchGetClientsResponse(clients=found, missing=[str(n) for n in missing])

    def UpdateClient(
        self, request: pb.UpdateClientRequest, context: grpc.ServicerContext
    ) -> pb.Client:
        auth.require_client_write(request.client.name)
        name = ClientName.parse(request.client.name, "client.name")
        updated = clients.update(self._database, name, request.client, request.update_mask)
        self._on_commit()
        return updated

    def DeleteClient(
        self, request: pb.DeleteClientRequest, context: grpc.ServicerContext
    ) -> pb.DeleteClientResponse:
        auth.require_admin()
        clients.delete(self._database, ClientName.parse(request.name, "name"), self._registry)
        self._on_commit()
        return pb.DeleteClientResponse()
