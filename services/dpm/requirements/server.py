"""Requirements server bootstrap: its database, the outbox relay, the servicers
(clients, and the token registry that owns the labs' tokens).

DPM_TOKEN_SECRET=... python -m dpm.requirements.server
"""

from __future__ import annotations

from dpm.auth.v1 import tokens_pb2, tokens_pb2_grpc
from dpm.platform.grpc_server import RunningServer
from dpm.platform.outbox import Publisher
from dpm.platform.service import Binding, Parts, ServiceSpec, serve, start
from dpm.requirements.servicer import RequirementsServicer
from dpm.requirements.settings import RequirementsSettings
from dpm.requirements.store import MIGRATIONS_DIR
from dpm.requirements.store.models import OutboxRow
from dpm.requirements.token_servicer import TokenServicer
from dpm.requirements.tokens import Republisher, TokenRegistry
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc

SPEC = ServiceSpec(
    name="requirements",
    service=requirements_pb2.DESCRIPTOR.services_by_name["RequirementsService"],
    add_servicer=requirements_pb2_grpc.add_RequirementsServiceServicer_to_server,
    settings=RequirementsSettings,
    migrations=MIGRATIONS_DIR,
    more=(
        Binding(
            tokens_pb2.DESCRIPTOR.services_by_name["TokenService"],
            tokens_pb2_grpc.add_TokenServiceServicer_to_server,
        ),
    ),
)


def create_server(
    settings: RequirementsSettings, publisher: Publisher | None = None
) -> RunningServer:
    def servicers(parts: Parts) -> tuple[RequirementsServicer, TokenServicer]:
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
        )

    return start(SPEC, settings, servicers)


def main() -> None:
    serve(SPEC, create_server)


if __name__ == "__main__":
    main()
