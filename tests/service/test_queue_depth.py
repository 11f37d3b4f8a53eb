"""The queue-depth gauge reads each broker's real queues (RabbitMQ and Redis)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from kombu import Connection

from dpm.platform.queue_depth import QueueDepth
from tests.conftest import IN_CI, RABBITMQ_URL


@pytest.fixture(params=["rabbitmq", "redis"])
def broker_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    if request.param == "redis":
        return redis_url
    try:
        with Connection(RABBITMQ_URL, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        if IN_CI:
            raise
        pytest.skip(f"no RabbitMQ at {RABBITMQ_URL}: {exc}")
    return RABBITMQ_URL


@pytest.fixture
def queue(broker_url: str) -> Iterator[str]:
    name = f"dpmtest-{uuid.uuid4().hex[:8]}.rematch"
    yield name
    with Connection(broker_url) as connection:
        connection.SimpleQueue(name).queue.delete()


def eventually(depth: QueueDepth, expected: dict[str, int], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while depth.depths() != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_it_counts_the_messages_waiting_in_each_queue(broker_url: str, queue: str) -> None:
    never_declared = f"{queue}.never"
    depth = QueueDepth(broker_url, [queue, never_declared])
    try:
        assert depth.depths() == {queue: 0, never_declared: 0}
        with Connection(broker_url) as connection:
            waiting = connection.SimpleQueue(queue)
            for n in range(3):
                waiting.put({"n": n})
            # RabbitMQ counts a publish once it has routed it (no confirms here): soon.
            assert eventually(depth, {queue: 3, never_declared: 0})
            # A never-declared queue on AMQP closes the channel: the next read still works.
            assert depth.depths() == {queue: 3, never_declared: 0}
            waiting.clear()
            assert eventually(depth, {queue: 0, never_declared: 0})
    finally:
        depth.close()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "amqp://guest:guest@127.0.0.1:1//"])
def test_a_broker_that_does_not_answer_gives_no_figure_rather_than_zero(url: str) -> None:
    depth = QueueDepth(url, ["dpm.rematch"])
    started = time.monotonic()
    assert depth.depths() == {}
    assert time.monotonic() - started < 10  # a metrics collection is not held up for long
    depth.close()
