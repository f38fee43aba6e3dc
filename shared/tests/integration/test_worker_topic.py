"""A service's worker creates its topics up front, with the partitions it is configured for, on real Kafka."""

from __future__ import annotations

import asyncio
import uuid
from typing import ClassVar

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from loginless.shared.messaging import InboxConsumer, dead_letter_topic
from loginless.shared.settings import ServiceSettings
from loginless.shared.worker import ServiceWorker, WorkerRuntime
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration


class TopicTestSettings(ServiceSettings):
    service_name: ClassVar[str] = "topictest"


async def test_a_worker_creates_its_topics_with_their_partitions_before_anything_is_published_or_read(
        database_url, kafka_bootstrap_servers):
    """Its own topic, the topic its consumer reads and that consumer's dead letters, all with the configured
    partitions, though no service published to them yet (a broker auto-creating them would give them one)."""
    prefix = f"topics{uuid.uuid4().hex[:8]}."
    settings = TopicTestSettings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap_servers,
                                 database_schema=f"topictest_{uuid.uuid4().hex[:8]}", topic_prefix=prefix,
                                 topic_partitions=8)

    def upstream_consumer(runtime: WorkerRuntime) -> InboxConsumer:
        async def ignore(event, connection):
            pass

        return InboxConsumer(runtime.store, consumer=f"{prefix}topictest-upstream",
                             topic=settings.topic_of("upstream"), handler=ignore)

    expected = [settings.events_topic, settings.topic_of("upstream"),
                dead_letter_topic(settings.topic_of("upstream"), f"{prefix}topictest-upstream")]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    stop = asyncio.Event()
    worker = asyncio.create_task(ServiceWorker(settings, consumers=[upstream_consumer]).run(stop))
    try:
        async def partitions() -> dict[str, int] | None:
            if not set(expected) <= set(await admin.list_topics()):
                return None
            return {described["topic"]: len(described["partitions"])
                    for described in await admin.describe_topics(expected)}

        assert await eventually(partitions, timeout=30, message="the topics") == dict.fromkeys(expected, 8)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
        await admin.close()
        connection = await asyncpg.connect(database_url)
        await connection.execute(f'DROP SCHEMA IF EXISTS "{settings.schema}" CASCADE')
        await connection.close()
