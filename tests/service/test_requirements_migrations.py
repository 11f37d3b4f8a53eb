"""The requirements database's migrations keep every stored client (upgrade and back)."""

from __future__ import annotations

import datetime as dt
import json

from alembic import command
from alembic.config import Config
from google.protobuf import json_format
from sqlalchemy import text
from sqlalchemy.orm import Session

from dpm.platform.db import make_engine, normalize_url
from dpm.platform.names import ClientName
from dpm.requirements.store import MIGRATIONS_DIR
from dpm.requirements.store.repository import ClientRepository, to_client
from dpm.requirements.v1 import requirements_pb2 as pb

CLIENT = pb.Client(
    display_name="Lab",
    requirements=pb.Requirements(
        needs=[pb.Need(modality=2, monthly_volume=10_000, min_quality=0.8)],
        required_certifications=[1],
        allowed_regions=["US", "EU"],
        monthly_budget_usd=50_000.0,
    ),
    neutrality_policy=pb.NeutralityPolicy(
        competitors=["organizations/meta"],
        max_competitor_equity=0.25,
        board_seat_disqualifies=True,
        as_of="2025-06-30",
    ),
)


def _alembic(url: str, revision: str, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = make_engine(normalize_url(url))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)
    finally:
        engine.dispose()


def _as_json(message: pb.Requirements | pb.NeutralityPolicy) -> str:
    return json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True))


def test_clients_stored_as_json_read_the_same_after_the_binary_migration(
    database_url: str,
) -> None:
    _alembic(database_url, "0004")
    engine = make_engine(normalize_url(database_url))
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO clients (id, display_name, organization, requirements,"
                    " neutrality_policy, revision, create_time, update_time)"
                    " VALUES ('lab', 'Lab', '', :r, :p, 3, :t, :t)"
                ),
                {
                    "r": _as_json(CLIENT.requirements),
                    "p": _as_json(CLIENT.neutrality_policy),
                    "t": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                },
            )
        _alembic(database_url, "head")
        with Session(engine) as session:
            row = ClientRepository(session).get(ClientName("lab"))
            assert row is not None
            read = to_client(row)
        assert read.requirements == CLIENT.requirements
        assert read.neutrality_policy == CLIENT.neutrality_policy
        assert read.revision == 3

        _alembic(database_url, "0004", down=True)
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT requirements, neutrality_policy FROM clients")
            ).one()
        loaded = [json.loads(v) if isinstance(v, str) else v for v in stored]
        assert json_format.ParseDict(loaded[0], pb.Requirements()) == CLIENT.requirements
        assert json_format.ParseDict(loaded[1], pb.NeutralityPolicy()) == CLIENT.neutrality_policy
    finally:
        engine.dispose()
