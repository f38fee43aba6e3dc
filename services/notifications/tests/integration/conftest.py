"""Notifications against real PostgreSQL and Mailpit, with the real links service beside it (served over HTTP,
its own delivery worker sending the reminders), all on one clock the test moves by hand.

Events reach notifications through its own inbox consumers: links' events exactly as links wrote them to its
outbox, and the other services' events as they publish them (``publish``)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest

from loginless.events import CloudEvent, IntegrationEvent
from loginless.links.bootstrap import links_context
from loginless.links.delivery import DeliveryWorker
from loginless.links.messages import MessageComposer
from loginless.links.senders import OutboxFileSmsSender
from loginless.links.views import IssuedLink, IssueLinksIn, RecipientIn
from loginless.notifications.bootstrap import MIGRATIONS, notifications_context
from loginless.notifications.consumers import consumer_of
from loginless.notifications.handlers import NotificationsContext, work_through_due
from loginless.notifications.settings import NotificationsSettings
from loginless.shared.eventstore import EventStore, migrate, quote_ident
from loginless.shared.mail import SmtpEmailSender
from loginless.testkit.clock import ManualWallClock
from loginless.testkit.links_service import ServedLinks, links_settings, served_links

INTERNAL_SECRET = "test-internal-secret"
PUBLIC_URL = "https://guests.example.test"


@pytest.fixture
def clock() -> ManualWallClock:
    return ManualWallClock()


@pytest.fixture
def settings(database_url, kafka_bootstrap_servers, smtp_url) -> NotificationsSettings:
    schema = f"notifications_test_{uuid.uuid4().hex[:12]}"
    return NotificationsSettings(
        database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap_servers, database_schema=schema,
        topic_prefix=f"{schema}.", public_url=PUBLIC_URL, internal_api_secret=INTERNAL_SECRET,
        smtp_url=smtp_url, smtp_from="loginless <no-reply@notify.test>", smtp_timeout_seconds=5,
        receipt_quiet_seconds=60, send_retry_seconds=0.05, send_lease_seconds=30)


@pytest.fixture
async def pool(settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(settings.database_url, min_size=0, max_size=10)
    async with pool.acquire() as connection:
        await migrate(connection, settings.schema, [MIGRATIONS])
    yield pool
    await pool.execute(f"DROP SCHEMA IF EXISTS {quote_ident(settings.schema)} CASCADE")
    await pool.close()


@pytest.fixture
async def links(database_url, kafka_bootstrap_servers, smtp_url, clock, tmp_path) -> AsyncIterator[ServedLinks]:
    settings = links_settings(database_url, kafka_bootstrap_servers, internal_secret=INTERNAL_SECRET,
                              public_url=PUBLIC_URL, smtp_url=smtp_url, smtp_from="loginless <no-reply@links.test>",
                              sms_outbox_path=str(tmp_path / "sms.jsonl"))
    async with served_links(settings, clock=clock) as served:
        yield served


@dataclass
class Notifications:
    """Notifications, the real links beside it, and a firm whose owner chose where alerts go."""

    ctx: NotificationsContext
    clock: ManualWallClock
    links: ServedLinks
    links_delivery: DeliveryWorker
    tenant_id: str
    owner: str
    _links_outbox_seen: int = 0
    _consumers: dict = field(default_factory=dict)

    async def issue(self, action: str = "upload", **recipient: str) -> IssuedLink:
        """One link issued at links and e-mailed to its recipient (by links' worker, into Mailpit)."""
        recipient.setdefault("email", f"guest-{uuid.uuid4().hex[:8]}@example.test")
        [issued] = (await self.links.client.issue(self.tenant_id, IssueLinksIn(
            action=action, resource_id=f"upr_{uuid.uuid4().hex[:12]}",
            recipients=[RecipientIn(delivery="email", **recipient)]))).links
        return issued

    async def consume_links_events(self) -> None:
        """Hand notifications every event links has written to its outbox since the last call."""
        rows = await self.links.pool.fetch(
            f"SELECT id, message_value FROM {quote_ident(self.links.settings.schema)}.outbox WHERE id > $1"
            " ORDER BY id", self._links_outbox_seen)
        for row in rows:
            await self._consumer("links").process(row["message_value"], broker=None, record=None)
            self._links_outbox_seen = row["id"]

    async def publish(self, payload: IntegrationEvent, *, subject: str, event_id: str | None = None) -> CloudEvent:
        """``payload`` as its service publishes it, through notifications' consumer of that service's topic."""
        event = CloudEvent(source=payload.source(), type=payload.type_name(), subject=subject,
                           data=payload.model_dump(mode="json"), tenantid=self.tenant_id,
                           correlationid=str(uuid.uuid4()), **({"id": event_id} if event_id else {}))
        await self._consumer(payload.service).process(event.to_message()[1], broker=None, record=None)
        return event

    async def work(self) -> None:
        """One round of each worker: notifications' (reminders, batches, mails) and links' deliveries."""
        await self.consume_links_events()
        await work_through_due(self.ctx)
        await self.links_delivery.deliver_due()

    async def events(self, event_type: str) -> list[dict]:
        rows = await self.ctx.store.pool.fetch(
            f"SELECT data FROM {quote_ident(self.ctx.settings.schema)}.events WHERE type = $1"
            " ORDER BY recorded_at, version", f"loginless.notifications.{event_type}.v1")
        return [json.loads(row["data"]) for row in rows]

    def _consumer(self, service: str):
        if service not in self._consumers:
            self._consumers[service] = consumer_of(service)(self.ctx)
        return self._consumers[service]


@pytest.fixture
async def notifications(settings, pool, links, clock, smtp_url) -> Notifications:
    ctx = notifications_context(EventStore(pool, schema=settings.schema, topic=settings.events_topic), settings,
                                links=links.client, clock=clock)
    links_ctx = links_context(EventStore(links.pool, schema=links.settings.schema, topic=links.settings.events_topic),
                              links.settings, clock)
    delivery = DeliveryWorker(links_ctx, composer=MessageComposer(links.settings.smtp_from),
                              email=SmtpEmailSender(smtp_url, timeout=5),
                              sms=OutboxFileSmsSender(links.settings.sms_outbox_path), max_attempts=3,
                              retry_seconds=0.05, poll_seconds=0.05, send_timeout_seconds=5)
    tenant_id, _ = await links.add_tenant("Ortega & Lane", contact_name="Front desk",
                                          contact_email="desk@ortega-lane.test", color="#0b6e4f")
    return Notifications(ctx, clock, links, delivery, tenant_id, f"owner-{os.urandom(4).hex()}@ortega-lane.test")
