"""Faults injected into servers the test runs itself: a Kafka broker SIGKILLed mid-burst, PostgreSQL stopped.

These need their own PostgreSQL and Kafka (the shared ones must stay up for every other test), so they
start them from the local stack's components on free ports.
"""

import asyncio
import collections
import os
from pathlib import Path
from typing import ClassVar

import pytest
from litestar.testing import AsyncTestClient

from loginless.shared.eventstore import KafkaSink, OutboxRelay
from loginless.shared.settings import ServiceSettings
from loginless.shared.web import create_service_app
from loginless.testkit import endpoints
from loginless.testkit.kafka import read_topic
from loginless.testkit.network import free_port
from loginless.testkit.sample import TallyController, increment
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
KAFKA_JARS = REPO / ".cache" / "jars" / "kafka"


@pytest.fixture
async def own_kafka(tmp_path):
    from loginless.devstack.kafka import KafkaServer

    if not KAFKA_JARS.is_dir():
        endpoints.missing("the Kafka jars (run `make provision`)")
    server = KafkaServer(tmp_path / "kafka-var", KAFKA_JARS, port=free_port(), controller_port=free_port())
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


@pytest.fixture
async def own_postgres(tmp_path):
    from loginless.devstack.postgres import PostgresServer

    # Under the stack's var directory: as root, PostgreSQL runs as an unprivileged user that cannot enter
    # pytest's private temporary directory.
    var_dir = Path(os.environ["LOGINLESS_VAR_DIR"]) if "LOGINLESS_VAR_DIR" in os.environ else tmp_path
    server = PostgresServer(var_dir / "faults" / tmp_path.name, port=free_port())
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


async def test_a_broker_killed_mid_burst_and_restarted_loses_nothing(store, own_kafka, database_url):
    relay = OutboxRelay(database_url, schema=store.schema, max_backoff_seconds=1.0,
                        sink=KafkaSink(own_kafka.bootstrap_servers, client_id="fault-relay"))
    relay_task = asyncio.create_task(relay.run())
    highest: dict[str, int] = collections.defaultdict(int)

    async def writer(writer_id: int, count: int) -> None:
        for n in range(count):
            stream = f"tally-{(writer_id * 7 + n) % 50}"
            number = await increment(store, stream)  # read ``highest`` only after: other writers ran meanwhile
            highest[stream] = max(highest[stream], number)

    async def published() -> int:
        return await store.pool.fetchval(
            f'SELECT count(*) FROM "{store.schema}".outbox WHERE published_at IS NOT NULL')

    try:
        burst = asyncio.gather(*(writer(w, 400) for w in range(8)))
        await eventually(lambda: _at_least(published(), 300), timeout=60, message="300 events published")
        own_kafka.kill()  # SIGKILL while writers and the relay are in full flow
        await burst  # writes go on while the broker is dead: they wait in the outbox
        await asyncio.to_thread(own_kafka.start)
        written = {str(r["event_id"]) for r in await store.pool.fetch(
            f'SELECT event_id FROM "{store.schema}".outbox')}
        assert len(written) == 3200
        messages = await read_topic(own_kafka.bootstrap_servers, store.topic, timeout=120,
                                    until=lambda received: written <= {m.event.id for m in received})
    finally:
        relay_task.cancel()
    assert {m.event.id for m in messages} == written
    by_key = collections.defaultdict(list)
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        by_key[message.key.decode()].append(message.event.data["number"])
    for key, numbers in by_key.items():
        first_seen = list(dict.fromkeys(numbers))  # duplicates are allowed, reordering and gaps are not
        assert first_seen == list(range(1, highest[key] + 1)), key


async def _at_least(awaitable, minimum: int) -> bool:
    return (await awaitable) >= minimum


class FaultTestSettings(ServiceSettings):
    service_name: ClassVar[str] = "faulttest"


async def test_with_postgres_stopped_the_service_answers_503_and_recovers_without_a_restart(
    own_postgres, kafka_bootstrap_servers
):
    settings = FaultTestSettings(database_url=own_postgres.dsn, kafka_bootstrap_servers=kafka_bootstrap_servers)
    app = create_service_app(settings, route_handlers=[TallyController])
    async with AsyncTestClient(app) as http:
        assert (await http.get("/health/ready")).status_code == 200
        assert (await http.post("/v1/tallies/t1/increments")).json()["number"] == 1

        await asyncio.to_thread(own_postgres.stop)
        ready = await http.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["postgresql"].startswith("unavailable")
        write = await http.post("/v1/tallies/t1/increments")
        assert write.status_code == 503
        assert write.headers["content-type"] == "application/problem+json"
        assert write.json()["type"].endswith("/dependency-unavailable")

        await asyncio.to_thread(own_postgres.start)
        await eventually(lambda: _status_is(http.get("/health/ready"), 200), timeout=30)
        recovered = await http.post("/v1/tallies/t1/increments")
        assert recovered.status_code == 201
        assert recovered.json()["number"] == 2  # the write refused during the outage left nothing behind


async def _status_is(request, status: int) -> bool:
    return (await request).status_code == status
