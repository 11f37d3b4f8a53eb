"""Requirements server bootstrap: its database, the outbox relay, the servicers
(clients, the token registry that owns the labs' tokens, the audit log of its writes).

DPM_TOKEN_SECRET=... python -m dpm.requirements.server
"""

from __future__ import annotations

from dpm.audit.v1 import audit_pb2, audit_pb2_grpc
from dpm.auth.v1 import tokens_pb2, tokens_pb2_grpc
from dpm.platform.audit import AuditServicer, AuditSpec, full_method
from dpm.platform.grpc_server import RunningServer
from dpm.platform.names import ClientName
from dpm.platform.outbox import Publisher
from dpm.platform.service import Binding, Parts, ServiceSpec, serve, start
from dpm.requirements.servicer import RequirementsServicer
from dpm.requirements.settings import RequirementsSettings
from dpm.requirements.store import MIGRATIONS_DIR
from dpm.requirements.store.models import AuditRow, OutboxRow
from dpm.requirements.token_servicer import TokenServicer
from dpm.requirements.tokens import Republisher, TokenRegistry
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc

REQUIREMENTS = requirements_pb2.DESCRIPTOR.services_by_name["RequirementsService"]
TOKENS = tokens_pb2.DESCRIPTOR.services_by_name["TokenService"]
# The methods that write, and the resource each call names (dpm.platform.audit).
AUDITED = {
    full_method(REQUIREMENTS, "CreateClient"): lambda request, _: str(
        ClientName(request.client_id)
    ),
    full_method(REQUIREMENTS, "UpdateClient"): lambda request, _: request.client.name,
    full_method(REQUIREMENTS, "DeleteClient"): lambda request, _: request.name,
    # The token's own name once issued (its jti is known only then).
    full_method(TOKENS, "IssueToken"): lambda _, response: response.token.name if response else "",
    full_method(TOKENS, "RevokeToken"): lambda request, _: request.name,
}

SPEC = ServiceSpec(
    name="requirements",
    service=REQUIREMENTS,
    add_servicer=requirements_pb2_grpc.add_RequirementsServiceServicer_to_server,
    settings=RequirementsSettings,
    migrations=MIGRATIONS_DIR,
    more=(
        Binding(TOKENS, tokens_pb2_grpc.add_TokenServiceServicer_to_server),
        Binding(
            audit_pb2.DESCRIPTOR.services_by_name["AuditService"],
            audit_pb2_grpc.add_AuditServiceServicer_to_server,
        ),
    ),
    audit=AuditSpec(AuditRow, AUDITED),
)


def create_server(
    settings: RequirementsSettings, publisher: Publisher | None = None
) -> RunningServer:
    def servicers(parts: Parts) -> tuple[RequirementsServicer, TokenServicer, AuditServicer]:
        relay = parts.outbox_relay(OutboxRow, publisher)
        registry = TokenRegistry(
            parts.database, parts.token_keys, parts.revocation_store, parts.revocations
        )
        republisher = Republisher(registry, settings.revocation_refresh_seconds)
        republisher.start()
        parts.on_close(republisher.stop)
        return (
            RequirementsServicer(
                parts.database, settings.token_secret, registry, on_commit=relay.notify
            ),
            TokenServicer(registry, settings.token_secret),
            AuditServicer(
                parts.audit_log, audit_pb2.ListAuditEntriesResponse, settings.token_secret
            ),
        )

    return start(SPEC, settings, servicers)


def main() -> None:
    serve(SPEC, create_server)


if __name__ == "__main__":
    main()
