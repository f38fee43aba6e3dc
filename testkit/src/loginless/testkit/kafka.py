"""Reading a topic from the beginning, for tests that reconcile what reached Kafka."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from loginless.events import CloudEvent


@dataclass(frozen=True)
class ReceivedMessage:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    partition: int
    offset: int

    @property
    def event(self) -> CloudEvent:
        return CloudEvent.from_message(self.value)


async def read_topic(bootstrap_servers: str, topic: str, *, until: Callable[[list[ReceivedMessage]], bool],
                     timeout: float = 60.0) -> list[ReceivedMessage]:
    """Every message of ``topic`` in partition order, read until ``until(messages)`` holds; fail at the deadline."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    messages: list[ReceivedMessage] = []
    deadline = time.monotonic() + timeout
    try:
        partitions: set[int] | None = None
        while partitions is None:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()  # the topic may not exist yet
                if time.monotonic() > deadline:
                    raise AssertionError(f"topic {topic} never appeared")
                await asyncio.sleep(0.1)
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        while not until(messages):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: condition not met within {timeout} s ({len(messages)} messages)")
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batch.values():
                messages.extend(
                    ReceivedMessage(r.key, r.value, dict(r.headers), r.partition, r.offset) for r in records
                )
        return messages
    finally:
        await consumer.stop()
