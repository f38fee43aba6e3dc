"""The read model on real PostgreSQL and Kafka: events applied once and in any order; a revoke closes the link
for the next request."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY

from loginless.events import CloudEvent
from loginless.events.payloads import links
from loginless.gateway.bootstrap import create_worker
from loginless.gateway.consumers import LINK_STATE_CONSUMER, link_state_consumer
from loginless.gateway.read_model import LinkFacts, LinkStateFreshness, LinkStateStore
from loginless.gateway.settings import GatewaySettings
from loginless.shared.eventstore import EventStore
from loginless.shared.messaging import build_broker
from loginless.shared.messaging.topics import ensure_topics
from loginless.shared.worker import WorkerRuntime
from loginless.testkit.clock import ManualClock
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


async def partitions_of(bootstrap: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return 0
        [described] = await admin.describe_topics([topic])
        return len(described["partitions"])
    finally:
        await admin.close()


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
    assert inbox == 4  # four distinct events that change link state; the duplicate found its id there, and the
    # opening, which changes nothing here, was skipped


async def test_the_consumer_keeps_a_code_locks_end_and_a_staff_reset_ends_it(
        pool, schema, database_url, kafka_bootstrap_servers):
    topic_prefix = f"t{uuid.uuid4().hex[:8]}."
    store = EventStore(pool, schema=schema, topic=f"{topic_prefix}gateway.events")
    settings = GatewaySettings(database_url=database_url, topic_prefix=topic_prefix)
    consumer = link_state_consumer(WorkerRuntime(settings, pool, store),
                                   consumer=f"gateway-link-state-{uuid.uuid4().hex[:6]}")
    await ensure_topics(kafka_bootstrap_servers, [consumer.topic], partitions=2)
    until = NOW + timedelta(minutes=15)
    await publish(kafka_bootstrap_servers, consumer.topic, [
        cloud_event(issued("lnk_l")),
        cloud_event(links.LinkVerificationLocked(link_id="lnk_l", tenant_id="tenant-1", locked_at=NOW,
                                                 locked_until=until)),
    ])
    broker = build_broker(kafka_bootstrap_servers, client_id="gateway-read-model-test")
    consumer.subscribe(broker)
    await broker.start()
    link_states = LinkStateStore(pool, schema=schema)
    try:
        async def locked():
            state = await link_states.get("lnk_l")
            return state is not None and state.verification_locked_until_at(NOW) == until

        await eventually(locked, timeout=60, message="the lock applied")
        await publish(kafka_bootstrap_servers, consumer.topic, [cloud_event(links.LinkVerificationReset(
            link_id="lnk_l", tenant_id="tenant-1", reset_at=NOW + timedelta(minutes=1)))])

        async def reset():
            state = await link_states.get("lnk_l")
            return state.verification_locked_until_at(NOW + timedelta(minutes=1)) is None

        await eventually(reset, timeout=60, message="the reset applied")
    finally:
        await broker.stop()
    state = await link_states.get("lnk_l")
    assert state.verification_locked_at == state.verification_locked_until == NOW + timedelta(minutes=1)
    assert state.closed_reason(NOW) is None  # a lock never closes the link itself


async def test_a_revocation_reaches_the_next_request_through_the_worker(start_gateway, kafka_bootstrap_servers):
    """The worker's path, not the fallback: the read model learns of the revocation from links.events and the
    gateway never has to ask links. How soon it lands is measured by ``bench/revocation.py`` (the promise is a
    second), not asserted here, where a loaded machine would make a timing flaky."""
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

                calls_before = len(gateway.links.calls)
                await publish(kafka_bootstrap_servers, f"{topic_prefix}links.events", [cloud_event(
                    links.LinkRevoked(link_id=link.link_id, tenant_id=link.tenant_id, revoked_at=datetime.now(UTC)))])

                async def turned_away():
                    page = await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie})
                    return page.status_code == 410

                await eventually(turned_away, timeout=30, interval=0.02, message="the revocation is enforced")
                revoked_in_read_model = (await gateway.link_states.get(link.link_id)).revoked_at
                asked_links = ("get", link.link_id) in gateway.links.calls[calls_before:]
        finally:
            stop.set()
            await worker
    assert revoked_in_read_model is not None  # written by the worker
    assert not asked_links  # the read model was fresh all along: the revocation came through the worker


async def test_twenty_records_of_a_type_the_gateway_cannot_read_do_not_hold_back_a_revocation_behind_them(
    start_gateway, kafka_bootstrap_servers,
):
    """A rolling upgrade of links publishes ``LinkIssued.v2`` before the gateway knows it: on the revoked link's own
    partition, ahead of its revocation. They are skipped, not retried (each retry would wait; each dead letter is a
    produce), so nothing holds the revocation behind them. Its latency is ``bench/revocation.py``'s to measure."""
    topic_prefix = f"t{uuid.uuid4().hex[:8]}."
    async with start_gateway(topic_prefix=topic_prefix, link_state_cache_seconds=0.1) as gateway:
        topic = f"{topic_prefix}links.events"
        stop = asyncio.Event()
        worker = asyncio.create_task(create_worker(gateway.settings).run(stop))
        try:
            await eventually(lambda: partitions_of(kafka_bootstrap_servers, topic), timeout=60,
                             message="the worker creates the topic it reads")
            token, link = gateway.links.add_link()
            _, warm_up = gateway.links.add_link()
            async with gateway.client() as http:
                cookie = await gateway.enter(http, token)
                await publish(kafka_bootstrap_servers, topic, [cloud_event(issued(warm_up.link_id))])
                await eventually(lambda: gateway.link_states.get(warm_up.link_id), timeout=60,
                                 message="the worker consumes")

                from_the_future = [
                    CloudEvent(source="/loginless/links", type="loginless.links.LinkIssued.v2", subject=link.link_id,
                               data={"link_id": link.link_id, "shape": "not known to this gateway"},
                               tenantid=link.tenant_id, correlationid="upgrade")
                    for _ in range(20)]
                revoked = links.LinkRevoked(link_id=link.link_id, tenant_id=link.tenant_id,
                                            revoked_at=datetime.now(UTC))
                skipped_before, dead_lettered_before = consumed("skipped_unknown_version"), consumed("dead_lettered")
                await publish(kafka_bootstrap_servers, topic, [*from_the_future, cloud_event(revoked)])

                async def turned_away():
                    page = await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie})
                    return page.status_code == 410

                await eventually(turned_away, timeout=30, interval=0.02,
                                 message="the revocation behind 20 unreadable records is enforced")
        finally:
            stop.set()
            await worker
        assert consumed("skipped_unknown_version") - skipped_before == 20  # each read once and passed over
        assert consumed("dead_lettered") == dead_lettered_before  # none retried until it was given up on
        skipped_in_inbox = await gateway.link_states.pool.fetchval(
            f'SELECT count(*) FROM "{gateway.settings.schema}".inbox WHERE event_type = $1',
            "loginless.links.LinkIssued.v2")
    assert skipped_in_inbox == 0  # skipped, not applied


async def test_the_read_model_is_trusted_only_while_its_last_report_of_being_caught_up_is_recent(pool, schema):
    clock = ManualClock(1_000_000.0)
    freshness = LinkStateFreshness(pool, schema=schema, max_staleness_seconds=2.0, wall_clock=clock)
    assert not await freshness.fresh()  # no worker ever reported
    now = datetime.fromtimestamp(clock(), UTC)
    await freshness.report({0: now, 1: now})
    assert await freshness.fresh()
    await freshness.report({0: None})  # partition 0 has records waiting: its last report stands
    clock.advance(1.5)
    assert await freshness.fresh()
    clock.advance(1.0)  # 2.5 s since the last report: a worker, its consumer or Kafka stalled
    assert not await freshness.fresh()
    await freshness.report({0: now + timedelta(seconds=2.5), 1: now + timedelta(seconds=2.5)})
    assert await freshness.fresh()
    await freshness.report({2: None})  # a partition never caught up yet counts as stale
    assert not await freshness.fresh()
    await freshness.report({2: now + timedelta(seconds=2.5)})
    assert await freshness.fresh()
    await freshness.mark_stale({1})  # its worker stopped
    assert not await freshness.fresh()


async def test_with_the_worker_stopped_a_revoked_cookie_is_refused_on_the_very_next_request(
    start_gateway, kafka_bootstrap_servers,
):
    """Revocation fails closed: once the worker is gone nothing tells the read model of the revocation, so the
    gateway asks links itself, and the first request after the revocation already gets 410."""
    topic_prefix = f"t{uuid.uuid4().hex[:8]}."
    async with start_gateway(topic_prefix=topic_prefix, link_state_max_staleness_seconds=2.0) as gateway:
        stop = asyncio.Event()
        worker = asyncio.create_task(create_worker(gateway.settings).run(stop))
        try:
            token, link = gateway.links.add_link()
            freshness = LinkStateFreshness(gateway.link_states.pool, schema=gateway.settings.schema)
            async with gateway.client() as http:
                cookie = await gateway.enter(http, token)
                await eventually(lambda: reported_by_every_partition(gateway), timeout=60,
                                 message="the worker reports the read model fresh")
                assert await freshness.fresh()
                calls_before = len(gateway.links.calls)
                assert (await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie})).status_code == 200
                assert ("get", link.link_id) not in gateway.links.calls[calls_before:]  # fresh: the read model

                stop.set()
                await worker  # stops its consumer and marks its partitions stale on the way out
                await gateway.links.revoke(link.tenant_id, link.link_id)  # no worker hears of it now
                page = await http.get(f"/g/{link.link_id}/", headers={"cookie": cookie})
                assert page.status_code == 410
                assert ("get", link.link_id) in gateway.links.calls[calls_before:]  # links was asked
                assert (await gateway.link_states.get(link.link_id)).revoked_at is not None  # its answer kept
        finally:
            stop.set()
            await worker


def consumed(outcome: str) -> float:
    """The worker's count of records with ``outcome`` (it runs in this process, so its metrics are ours)."""
    return REGISTRY.get_sample_value("loginless_events_consumed_total",
                                     {"consumer": LINK_STATE_CONSUMER, "outcome": outcome}) or 0.0


async def reported_by_every_partition(gateway) -> bool:
    recent = await gateway.link_states.pool.fetchval(
        f'SELECT count(*) FROM "{gateway.settings.schema}".link_state_freshness'
        " WHERE caught_up_at > now() - interval '2 seconds'")
    return recent == gateway.settings.topic_partitions
