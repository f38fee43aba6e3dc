"""The read model on real PostgreSQL and Kafka: events applied once and in any order; a revoke closes the link
for the next request."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from loginless.events import CloudEvent
from loginless.events.payloads import links
from loginless.gateway.bootstrap import create_worker
from loginless.gateway.consumers import link_state_consumer
from loginless.gateway.read_model import LinkFacts, LinkStateStore
from loginless.gateway.settings import GatewaySettings
from loginless.shared.eventstore import EventStore
from loginless.shared.messaging import build_broker
from loginless.shared.messaging.topics import ensure_topics
from loginless.shared.worker import WorkerRuntime
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def cloud_event(payload) -> CloudEvent:
    return CloudEvent(source=payload.source(), type=payload.type_name(), subject=payload.link_id,
                      data=payload.model_dump(mode="json"), tenantid=payload.tenant_id, correlationid="test")


def issued(link_id: str, *, resource_id: str = "doc_1", expires_at: datetime = NOW + timedelta(days=7)):
    return links.LinkIssued(link_id=link_id, tenant_id="tenant-1", action="view", resource_id=resource_id,
                            recipient_email="guest@example.com", expires_at=expires_at, max_uses=3,
                            issued_at=NOW)


async def publish(bootstrap: str, topic: str, events: list[CloudEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            key, value, headers = event.to_message()
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


@pytest.fixture
async def pool(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=0, max_size=4)
    yield pool
    await pool.close()


async def test_facts_merge_in_any_order_and_any_number_of_times(pool, schema):
    store = LinkStateStore(pool, schema=schema)
    revoked = LinkFacts(link_id="lnk_1", tenant_id="tenant-1", revoked_at=NOW)
    used_twice = LinkFacts(link_id="lnk_1", tenant_id="tenant-1", uses=2)
    description = LinkFacts(link_id="lnk_1", tenant_id="tenant-1", action="view", resource_id="doc_1",
                            expires_at=NOW + timedelta(days=1), max_uses=3, uses=1)
    await store.merge(revoked)  # the revocation is learnt before the issue itself
    assert (await store.get("lnk_1")).closed_reason(NOW) == "revoked"
    for facts in (used_twice, description, description, revoked):
        await store.merge(facts)
    state = await store.get("lnk_1")
    assert (state.action, state.resource_id, state.max_uses) == ("view", "doc_1", 3)
    assert state.uses == 2  # uses only grow
    assert state.revoked_at == NOW  # and a revocation stays: a stale "active" answer cannot undo it


async def test_the_consumer_applies_links_events_once_each(pool, schema, database_url, kafka_bootstrap_servers):
    topic_prefix = f"t{uuid.uuid4().hex[:8]}."
    store = EventStore(pool, schema=schema, topic=f"{topic_prefix}gateway.events")
    settings = GatewaySettings(database_url=database_url, topic_prefix=topic_prefix)
    consumer = link_state_consumer(WorkerRuntime(settings, pool, store),
                                   consumer=f"gateway-link-state-{uuid.uuid4().hex[:6]}")
    await ensure_topics(kafka_bootstrap_servers, [consumer.topic], partitions=2)
    first_issue = cloud_event(issued("lnk_a"))
    await publish(kafka_bootstrap_servers, consumer.topic, [
        first_issue,
        first_issue,  # redelivered: applied once
        cloud_event(links.LinkOpened(link_id="lnk_a", tenant_id="tenant-1", opened_at=NOW)),
        cloud_event(links.LinkUsed(link_id="lnk_a", tenant_id="tenant-1", used_at=NOW, uses=1)),
        cloud_event(issued("lnk_b", resource_id="doc_2")),
        cloud_event(links.LinkRevoked(link_id="lnk_b", tenant_id="tenant-1", revoked_at=NOW)),
    ])
    broker = build_broker(kafka_bootstrap_servers, client_id="gateway-read-model-test")
    consumer.subscribe(broker)
    await broker.start()
    link_states = LinkStateStore(pool, schema=schema)
    try:
        async def both_applied():
            a, b = await link_states.get("lnk_a"), await link_states.get("lnk_b")
            return a is not None and a.uses == 1 and b is not None and b.revoked_at is not None

        await eventually(both_applied, timeout=60, message="events applied")
    finally:
        await broker.stop()
    a = await link_states.get("lnk_a")
    assert (a.resource_id, a.recipient_email, a.closed_reason(NOW)) == ("doc_1", "guest@example.com", None)
    assert (await link_states.get("lnk_b")).closed_reason(NOW) == "revoked"
    inbox = await pool.fetchval(f'SELECT count(*) FROM "{schema}".inbox WHERE consumer = $1', consumer.consumer)
    assert inbox == 5  # five distinct events; the duplicate found its id there


async def test_a_revocation_reaches_the_next_request_through_the_worker_within_a_second(
    start_gateway, kafka_bootstrap_servers,
):
    topic_prefix = f"t{uuid.uuid4().hex[:8]}."
    # With the default per-replica cache of link state: the promise must hold with it.
    async with start_gateway(topic_prefix=topic_prefix, link_state_cache_seconds=0.1) as gateway:
        await ensure_topics(kafka_bootstrap_servers, [f"{topic_prefix}links.events"], partitions=2)
        stop = asyncio.Event()
        worker = asyncio.create_task(create_worker(gateway.settings).run(stop))
        try:
            token, link = gateway.links.add_link()
            _, warm_up = gateway.links.add_link()
            async with gateway.client() as http:
                cookie = await gateway.enter(http, token)
                assert (await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie})).status_code == 200

                # The worker is running once it applied an event for a link the gateway has not seen.
                await publish(kafka_bootstrap_servers, f"{topic_prefix}links.events",
                              [cloud_event(issued(warm_up.link_id))])
                await eventually(lambda: gateway.link_states.get(warm_up.link_id), timeout=60,
                                 message="the worker consumes")

                await publish(kafka_bootstrap_servers, f"{topic_prefix}links.events", [cloud_event(
                    links.LinkRevoked(link_id=link.link_id, tenant_id=link.tenant_id, revoked_at=datetime.now(UTC)))])
                revoked_at = time.monotonic()

                async def turned_away():
                    page = await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie})
                    return page.status_code == 410

                await eventually(turned_away, timeout=10, interval=0.02, message="the revocation is enforced")
                enforced_after = time.monotonic() - revoked_at
        finally:
            stop.set()
            await worker
    assert enforced_after < 1.0, f"the revocation took {enforced_after:.3f} s to reach the gateway"
