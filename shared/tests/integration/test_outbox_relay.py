"""The outbox relay against real PostgreSQL and Kafka: nothing lost, per-key order kept, one active relay."""

import asyncio
import collections
import random

import pytest

from loginless.shared.eventstore import KafkaSink, OutboxRelay
from loginless.shared.eventstore.relay import RELAY_FAILURES
from loginless.testkit.kafka import read_topic
from loginless.testkit.sample import increment
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration


def relay_for(store, database_url, kafka_bootstrap_servers, relay_class=OutboxRelay, **options):
    sink = KafkaSink(kafka_bootstrap_servers, client_id=f"test-relay-{store.schema}")
    return relay_class(database_url, schema=store.schema, sink=sink, **options)


async def outbox_event_ids(store) -> set[str]:
    rows = await store.pool.fetch(f'SELECT event_id FROM "{store.schema}".outbox')
    return {str(row["event_id"]) for row in rows}


def assert_per_key_order_without_gaps(messages, expected_per_key: dict[str, int]) -> int:
    """Return the number of duplicate deliveries; fail on any gap or reordering."""
    numbers_by_key = collections.defaultdict(list)
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        numbers_by_key[message.key.decode()].append(message.event.data["number"])
    duplicates = 0
    for key, numbers in numbers_by_key.items():
        distinct = []
        for number in numbers:
            if distinct and number <= distinct[-1]:
                assert number in distinct, f"{key}: {number} arrived after {distinct[-1]} and was never seen"
                duplicates += 1
                continue
            distinct.append(number)
        assert distinct == list(range(1, expected_per_key[key] + 1)), f"{key}: gap or reorder in {numbers}"
    assert set(numbers_by_key) == set(expected_per_key)
    return duplicates


async def test_sixteen_writers_over_two_hundred_streams_reach_kafka_in_order_without_gaps(
    store, database_url, kafka_bootstrap_servers
):
    relay = relay_for(store, database_url, kafka_bootstrap_servers)
    relay_task = asyncio.create_task(relay.run())
    failures_before = RELAY_FAILURES.labels(store.schema)._value.get()
    streams = [f"tally-{n}" for n in range(200)]
    highest: dict[str, int] = collections.defaultdict(int)

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(500):
            stream = rng.choice(streams)
            number = await increment(store, stream)
            highest[stream] = max(highest[stream], number)

    try:
        await asyncio.gather(*(writer(seed) for seed in range(16)))
        assert sum(highest.values()) == 16 * 500
        written = await outbox_event_ids(store)
        assert len(written) == 8000
        messages = await read_topic(
            kafka_bootstrap_servers, store.topic, timeout=120,
            until=lambda received: written <= {m.event.id for m in received},
        )
    finally:
        relay_task.cancel()
    assert {m.event.id for m in messages} == written  # outbox ids = ids on the topic
    duplicates = assert_per_key_order_without_gaps(messages, dict(highest))
    retries = RELAY_FAILURES.labels(store.schema)._value.get() - failures_before
    assert duplicates == 0 or retries > 0, "duplicates without a publish retry to explain them"
    unpublished = await store.pool.fetchval(
        f'SELECT count(*) FROM "{store.schema}".outbox WHERE published_at IS NULL')
    assert unpublished == 0


class RelayThatDiesBeforeMarking(OutboxRelay):
    """Publishes, then dies like a killed process before it can mark the rows published."""

    class Killed(BaseException):
        pass

    async def mark_published(self, connection, ids):
        raise self.Killed()


async def test_a_relay_killed_between_publish_and_mark_republishes_and_the_inbox_absorbs_it(
    store, database_url, kafka_bootstrap_servers
):
    from loginless.shared.messaging import InboxConsumer
    from loginless.testkit.sample import projecting_handler

    for stream in ("a", "b", "c"):
        for _ in range(3):
            await increment(store, stream)
    dying = relay_for(store, database_url, kafka_bootstrap_servers, RelayThatDiesBeforeMarking)
    with pytest.raises(RelayThatDiesBeforeMarking.Killed):
        await dying.run()
    assert await store.pool.fetchval(
        f'SELECT count(*) FROM "{store.schema}".outbox WHERE published_at IS NULL') == 9

    relay_task = asyncio.create_task(relay_for(store, database_url, kafka_bootstrap_servers).run())
    try:
        messages = await read_topic(kafka_bootstrap_servers, store.topic, until=lambda m: len(m) >= 18)
        await eventually(lambda: store.pool.fetchval(
            f'SELECT count(*) = 0 FROM "{store.schema}".outbox WHERE published_at IS NULL'))
    finally:
        relay_task.cancel()
    assert len(messages) == 18 and len({m.event.id for m in messages}) == 9  # each event twice

    consumer = InboxConsumer(store, consumer="tally-projector", topic=store.topic,
                             handler=projecting_handler(store.schema))
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        await consumer.process(message.value, broker=None, record=None)
    rows = await store.pool.fetch(f'SELECT tally_id, applied, highest FROM "{store.schema}".tally_projection')
    assert {(r["tally_id"], r["applied"], r["highest"]) for r in rows} == {("a", 3, 3), ("b", 3, 3), ("c", 3, 3)}


async def test_only_one_relay_is_active_and_a_standby_takes_over_when_it_dies(
    store, database_url, kafka_bootstrap_servers
):
    first = relay_for(store, database_url, kafka_bootstrap_servers, takeover_interval=0.2)
    second = relay_for(store, database_url, kafka_bootstrap_servers, takeover_interval=0.2)
    first_task = asyncio.create_task(first.run())
    await asyncio.wait_for(first.is_active.wait(), 10)
    second_task = asyncio.create_task(second.run())
    try:
        await increment(store, "before")
        await read_topic(kafka_bootstrap_servers, store.topic, until=lambda m: len(m) >= 1)
        assert not second.is_active.is_set()  # the standby waited on the lock the whole time

        first_task.cancel()  # the active relay dies; its connection, and so its lock, goes with it
        await asyncio.wait_for(second.is_active.wait(), 5)  # taken over within 5 s
        await increment(store, "after")
        messages = await read_topic(kafka_bootstrap_servers, store.topic, until=lambda m: len(m) >= 2)
        assert {m.key for m in messages} == {b"before", b"after"}
    finally:
        first_task.cancel()
        second_task.cancel()
