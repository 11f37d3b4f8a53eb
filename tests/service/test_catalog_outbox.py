"""The catalog's outbox reaches a real Celery broker (Redis) through the real publisher."""

from __future__ import annotations

import base64
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from test_catalog_support import org, running_catalog, stake

from dpm.catalog.v1 import catalog_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.config import DEFAULT_DEPLOYMENT
from dpm.platform.events import CatalogChanged, OwnershipChanged, Queue

pytestmark = pytest.mark.timeout(60)

# The broker queue the catalog of the default deployment publishes to.
QUEUE = Queue.REMATCH.in_deployment(DEFAULT_DEPLOYMENT)


def _isolated_db(url: str) -> str:
    """The same Redis, another logical database, so no worker under test consumes our messages."""
    base = url.rsplit("/", 1)[0]
    return f"{base}/{random.randint(8, 15)}"


def _tasks(client: redis.Redis, queue: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    # kombu LPUSHes and consumers BRPOP: the oldest message is at the right end.
    for raw in reversed(client.lrange(queue, 0, -1)):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        _args, kwargs, _embed = body
        out.append((message["headers"]["task"], kwargs))
    return out


def test_event_and_profile_change_are_published_to_redis(
    redis_url: str, token_secret: str, admin_token: str, tmp_path: Path
) -> None:
    broker = _isolated_db(redis_url)
    client = redis.Redis.from_url(broker)
    client.delete(QUEUE)
    db = f"sqlite:///{tmp_path / 'catalog.db'}"
    try:
        with running_catalog(
            db, token_secret, admin_token, tmp_path, real_broker=True, redis_url=broker
        ) as catalog:
            catalog.org("meta", "lab")
            catalog.org("scale-ai", "vendor")
            recorded = catalog.record(
                stake("meta-scale-2025", "meta", "scale-ai", "2025-06-12", 0.49, 0.0)
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                tasks = _tasks(client, QUEUE)
                if len(tasks) >= 3:
                    break
                time.sleep(0.05)
        names = [t for t, _ in tasks]
        assert names == [CatalogChanged.TASK, CatalogChanged.TASK, OwnershipChanged.TASK]
        event = dict(tasks[2][1])
        assert 0 < time.time() - event.pop("written_at") < 60  # timed from its commit
        assert event == {
            "v": 1,
            "event": "ownershipEvents/meta-scale-2025",
            "graph_version": recorded.graph_version,
            "upstream": [org("meta"), org("scale-ai")],
        }
        assert tasks[1][1] == {"v": 1, "catalog_version": 2, "organization": org("scale-ai")}
    finally:
        client.delete(QUEUE)
        client.close()


def test_broker_outage_delays_but_loses_nothing(
    redis_url: str, token_secret: str, admin_token: str, tmp_path: Path
) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    broker_up = False

    def flaky(task: str, queue: str, kwargs: dict[str, Any]) -> None:
        if not broker_up:
            raise ConnectionError("broker down")
        sent.append((task, kwargs))

    db = f"sqlite:///{tmp_path / 'catalog.db'}"
    with running_catalog(db, token_secret, admin_token, tmp_path, publisher=flaky) as catalog:
        catalog.org("meta", "lab")
        catalog.org("scale-ai", "vendor")
        event = ownership_pb2.OwnershipEvent(event_id="seat", effective_date="2025-01-01")
        event.board_seat_granted.holder = org("meta")
        event.board_seat_granted.held = org("scale-ai")
        catalog.stub.RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=event))
        time.sleep(0.3)
        assert sent == []
        broker_up = True
        deadline = time.monotonic() + 10
        while len(sent) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [t for t, _ in sent] == [
        CatalogChanged.TASK,
        CatalogChanged.TASK,
        OwnershipChanged.TASK,
    ]
