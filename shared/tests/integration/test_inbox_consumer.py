"""Consumers on a real FastStream broker and Kafka: dedupe by inbox, dead letters for poison, offsets after work."""

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from loginless.events import CloudEvent
from loginless.shared.messaging import InboxConsumer, build_broker
from loginless.testkit.kafka import read_topic
from loginless.testkit.sample import projecting_handler
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration


def tally_event(tally_id: str, number: int) -> CloudEvent:
    return CloudEvent(source="/loginless/sample", type="loginless.sample.TallyIncremented.v1", subject=tally_id,
                      data={"tally_id": tally_id, "number": number}, tenantid="t", correlationid="c")


async def produce(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def applied(store) -> dict[str, int]:
    rows = await store.pool.fetch(f'SELECT tally_id, applied FROM "{store.schema}".tally_projection')
    return {row["tally_id"]: row["applied"] for row in rows}


async def test_poison_and_failing_messages_go_to_the_dead_letter_topic_and_the_consumer_moves_on(
    store, kafka_bootstrap_servers
):
    topic = f"{store.schema}.in"
    project = projecting_handler(store.schema)

    async def handler(event, connection):
        if event.subject == "always-fails":
            raise ValueError("this event cannot be applied")
        await project(event, connection)

    consumer = InboxConsumer(store, consumer=f"{store.schema}-projector", topic=topic, handler=handler,
                             max_attempts=3, retry_delay_seconds=0.01)
    duplicate = tally_event("good", 1)
    await produce(kafka_bootstrap_servers, topic, [
        (b"x", b"this is not json at all"),
        (b"always-fails", tally_event("always-fails", 1).to_message()[1]),
        (b"good", duplicate.to_message()[1]),
        (b"good", duplicate.to_message()[1]),  # redelivered: must be applied once
        (b"good", tally_event("good", 2).to_message()[1]),
    ])
    broker = build_broker(kafka_bootstrap_servers, client_id="test-consumer")
    consumer.subscribe(broker)
    await broker.start()
    try:
        await eventually(lambda: applied(store), message="good events applied")
        await eventually(lambda: _equals(applied(store), {"good": 2}), timeout=30)
        dead = await read_topic(kafka_bootstrap_servers, consumer.dead_letter_topic, until=lambda m: len(m) >= 2)
    finally:
        await broker.stop()
    by_key = {m.key: m for m in dead}  # different keys may sit on different partitions
    assert set(by_key) == {b"x", b"always-fails"}
    assert by_key[b"x"].value == b"this is not json at all"
    assert by_key[b"x"].headers["x-dead-letter-error"].startswith(b"PoisonMessage")
    failing = by_key[b"always-fails"]
    assert failing.headers["x-dead-letter-error"] == b"ValueError: this event cannot be applied"
    assert failing.headers["x-dead-letter-attempts"] == b"3"
    assert failing.headers["x-original-topic"] == topic.encode()
    inbox = await store.pool.fetchval(f'SELECT count(*) FROM "{store.schema}".inbox')
    assert inbox == 2  # the two good events; the failed one's effect and inbox row were rolled back


async def _equals(awaitable, expected) -> bool:
    return (await awaitable) == expected


async def test_offsets_are_committed_only_after_processing(store, kafka_bootstrap_servers):
    """A consumer that dies mid-handler gets the message again: nothing was committed before the work."""
    topic = f"{store.schema}.crash"
    group = f"{store.schema}-crashy"
    entered = asyncio.Event()
    release = asyncio.Event()

    async def stuck_handler(event, connection):
        entered.set()
        await release.wait()

    await produce(kafka_bootstrap_servers, topic, [(b"k", tally_event("k", 1).to_message()[1])])
    broker = build_broker(kafka_bootstrap_servers, client_id="crashy")
    InboxConsumer(store, consumer=group, topic=topic, handler=stuck_handler).subscribe(broker)
    await broker.start()
    await asyncio.wait_for(entered.wait(), 30)
    await broker.stop()  # the process "dies" while the handler is still running

    broker = build_broker(kafka_bootstrap_servers, client_id="recovered")
    InboxConsumer(store, consumer=group, topic=topic, handler=projecting_handler(store.schema)).subscribe(broker)
    await broker.start()
    try:
        await eventually(lambda: _equals(applied(store), {"k": 1}), timeout=30)
    finally:
        await broker.stop()
