"""The metrics operators alert on (docs/operations.md), measured against real PostgreSQL and Kafka: the outbox's
lag as the active relay sees it, events published by type, and a consumer group's lag."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY

from loginless.shared.eventstore import KafkaSink, OutboxRelay
from loginless.shared.eventstore.relay import OutboxRow
from loginless.shared.messaging.lag import consumer_lag
from loginless.shared.messaging.topics import ensure_topics
from loginless.testkit.sample import increment
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration

TALLY_TYPE = "loginless.sample.TallyIncremented.v1"


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


class BrokerDown:
    async def start(self) -> None:
        raise ConnectionError("no broker")

    async def stop(self) -> None:
        pass

    async def publish(self, rows) -> None:  # noqa: ANN001
        raise ConnectionError("no broker")


async def _true(condition: bool) -> bool:
    return condition


async def test_the_active_relay_reports_the_outbox_lag_and_counts_published_events_by_type(
        store, database_url, kafka_bootstrap_servers):
    for number in range(3):
        await increment(store, f"lag-{number}")
    schema = store.schema
    stuck = asyncio.create_task(OutboxRelay(database_url, schema=schema, sink=BrokerDown(),
                                            lag_interval_seconds=0.1, max_backoff_seconds=0.2).run())
    try:
        await eventually(lambda: _true(sample("loginless_outbox_unpublished_rows", schema=schema) == 3
                                       and sample("loginless_outbox_lag_seconds", schema=schema) > 0.5),
                         timeout=30, message="three rows waiting for more than half a second")
    finally:
        stuck.cancel()
        await asyncio.gather(stuck, return_exceptions=True)
    assert sample("loginless_outbox_lag_seconds", schema=schema) is None, "a relay no longer active reports none"

    published_before = sample("loginless_events_published_total", type=TALLY_TYPE) or 0
    sink = KafkaSink(kafka_bootstrap_servers, client_id=f"lag-relay-{schema}")
    relay = asyncio.create_task(OutboxRelay(database_url, schema=schema, sink=sink, lag_interval_seconds=0.1).run())
    try:
        await eventually(lambda: _true(sample("loginless_outbox_unpublished_rows", schema=schema) == 0
                                       and sample("loginless_outbox_lag_seconds", schema=schema) == 0),
                         timeout=60, message="the outbox drained")
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
    assert sample("loginless_events_published_total", type=TALLY_TYPE) - published_before == 3


async def test_consumer_lag_is_what_the_group_has_not_committed_yet(kafka_bootstrap_servers, schema):
    topic = f"{schema}.lag"
    await ensure_topics(kafka_bootstrap_servers, [topic], partitions=2)
    sink = KafkaSink(kafka_bootstrap_servers, client_id=f"lag-{schema}")
    await sink.start()
    try:
        await sink.publish([OutboxRow(n, topic, f"key-{n}".encode(), b"{}") for n in range(5)])
    finally:
        await sink.stop()
    assert await consumer_lag(kafka_bootstrap_servers, f"{schema}-new-group", topic) == 5

    group = f"{schema}-halfway"
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap_servers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        first = TopicPartition(topic, 0)
        consumer.assign([first, TopicPartition(topic, 1)])
        end_of_first = (await consumer.end_offsets([first]))[first]
        await consumer.commit({first: end_of_first})
    finally:
        await consumer.stop()
    assert await consumer_lag(kafka_bootstrap_servers, group, topic) == 5 - end_of_first
    assert await consumer_lag(kafka_bootstrap_servers, group, f"{schema}.no-such-topic") is None
