"""Topics are created up front, with enough partitions to scale consumers out, not by the first publish."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from loginless.shared.kafka_connection import KafkaConnection


async def ensure_topics(connection: KafkaConnection | str, topics: list[str], *, partitions: int = 6,
                        replication_factor: int = 1) -> None:
    admin = AIOKafkaAdminClient(**KafkaConnection.of(connection).client_options(), request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(topic, partitions, replication_factor) for topic in topics if topic not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:  # another replica created it first
                pass
    finally:
        await admin.close()
