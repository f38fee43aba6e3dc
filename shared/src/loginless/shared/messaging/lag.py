"""Consumer lag: how many messages of a topic a consumer group has not processed yet, per consumer.

Kafka knows it (the partitions' end offsets against the group's committed offsets), so the worker asks it now and
then and publishes the answer as a gauge; every worker replica of a service reports the same group's lag, so read
it with ``max``. A partition the group never committed on counts from its first retained message, which is where
the consumers start (``auto_offset_reset="earliest"``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Gauge

from loginless.shared.kafka_connection import KafkaConnection

log = structlog.get_logger(__name__)

CONSUMER_LAG = Gauge("loginless_consumer_lag_messages",
                     "Messages of the topic the consumer group has not processed yet", ["consumer", "topic"])


async def consumer_lag(connection: KafkaConnection | str, group: str, topic: str) -> int | None:
    """The group's lag on the topic, summed over partitions; None while the topic does not exist."""
    options = KafkaConnection.of(connection).client_options()
    admin = AIOKafkaAdminClient(**options, request_timeout_ms=10_000)
    offsets = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False, request_timeout_ms=10_000)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, partition["partition"]) for partition in description["partitions"]]
        if description["error_code"] or not partitions:
            return None
        await offsets.start()
        ends = await offsets.end_offsets(partitions)
        starts = await offsets.beginning_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await offsets.stop()
        await admin.close()
    lag = 0
    for partition in partitions:
        position = committed[partition].offset if partition in committed else -1
        lag += ends[partition] - (position if position >= 0 else starts[partition])
    return lag


async def report_consumer_lag(connection: KafkaConnection, subscriptions: Sequence[tuple[str, str]],
                              interval_seconds: float = 15.0) -> None:
    """Every ``interval_seconds``, the lag of each (consumer group, topic) as ``loginless_consumer_lag_messages``,
    until cancelled. While Kafka cannot answer, the last values stay and a warning says why."""
    while True:
        for group, topic in subscriptions:
            try:
                lag = await consumer_lag(connection, group, topic)
            except Exception as error:  # Kafka down or slow: try again next round
                log.warning("consumer lag unknown", consumer=group, topic=topic, error=repr(error))
                continue
            if lag is not None:
                CONSUMER_LAG.labels(group, topic).set(lag)
        await asyncio.sleep(interval_seconds)
