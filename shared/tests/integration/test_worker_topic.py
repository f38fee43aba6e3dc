"""A service's worker creates its topic up front, with the partitions it is configured for, on real Kafka."""

from __future__ import annotations

import asyncio
import uuid
from typing import ClassVar

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from loginless.shared.settings import ServiceSettings
from loginless.shared.worker import ServiceWorker
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration


class TopicTestSettings(ServiceSettings):
    service_name: ClassVar[str] = "topictest"


async def test_a_worker_creates_its_topic_with_its_partitions_before_anything_is_published(
        database_url, kafka_bootstrap_servers):
    prefix = f"topics{uuid.uuid4().hex[:8]}."
    settings = TopicTestSettings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap_servers,
                                 database_schema=f"topictest_{uuid.uuid4().hex[:8]}", topic_prefix=prefix,
                                 topic_partitions=8)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    stop = asyncio.Event()
    worker = asyncio.create_task(ServiceWorker(settings).run(stop))
    try:
        async def partitions() -> int:
            if settings.events_topic not in await admin.list_topics():
                return 0
            [described] = await admin.describe_topics([settings.events_topic])
            return len(described["partitions"])

        assert await eventually(partitions, timeout=30, message="the topic") == 8
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
        await admin.close()
        connection = await asyncpg.connect(database_url)
        await connection.execute(f'DROP SCHEMA IF EXISTS "{settings.schema}" CASCADE')
        await connection.close()
