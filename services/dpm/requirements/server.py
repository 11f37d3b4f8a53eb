"""Requirements server bootstrap: its database, the outbox relay, the servicer.

DPM_TOKEN_SECRET=... python -m dpm.requirements.server
"""

from __future__ import annotations

from dpm.platform.grpc_server import RunningServer
from dpm.platform.outbox import Publisher
from dpm.platform.service import Parts, ServiceSpec, serve, start
from dpm.requirements.servicer import RequirementsServicer
from dpm.requirements.settings import RequirementsSettings
from dpm.requirements.store import MIGRATIONS_DIR
from dpm.requirements.store.models import OutboxRow
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc

SPEC = ServiceSpec(
    name="requirements",
    service=requirements_pb2.DESCRIPTOR.services_by_name["RequirementsService"],
    add_servicer=requirements_pb2_grpc.add_RequirementsServiceServicer_to_server,
    settings=RequirementsSettings,
    migrations=MIGRATIONS_DIR,
)


def create_server(
    settings: RequirementsSettings, publisher: Publisher | None = None
) -> RunningServer:
    def servicer(parts: Parts) -> RequirementsServicer:
        relay = parts.outbox_relay(OutboxRow, publisher)
        return RequirementsServicer(parts.database, settings.token_secret, on_commit=relay.notify)

    return start(SPEC, settings, servicer)


def main() -> None:
    serve(SPEC, create_server)


if __name__ == "__main__":
    main()
