"""Each mail is sent once: across worker replicas, across a worker killed in the middle of a send, and not to an
address the mail server refused. Real PostgreSQL and Mailpit; a real worker process for the kill."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from loginless.events.payloads.documents import DocumentViewed
from loginless.notifications import handlers
from loginless.notifications.bootstrap import notifications_context
from loginless.notifications.domain import Preferences
from loginless.notifications.mails import Fact
from loginless.shared.branding import Branding
from loginless.shared.eventstore import EventStore, quote_ident
from loginless.testkit.mailpit import mails_to
from loginless.testkit.network import free_port
from loginless.testkit.waiting import eventually

from .conftest import INTERNAL_SECRET

pytestmark = pytest.mark.integration

BRANDING = Branding(name="Ortega & Lane")


class RecordingSender:
    """A mail server that takes its time: long enough for two workers' rounds to overlap."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_raw(self, message: bytes, *, sender: str, recipients: list[str]) -> None:
        await asyncio.sleep(0.01)
        self.sent.append(message.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0].split(b"\n", 1)[0].decode())


async def queue_alerts(ctx, count: int) -> list[str]:
    """``count`` composed alerts waiting in ``outgoing_mail``; their Message-IDs."""
    ids = []
    async with ctx.store.transaction() as connection:
        for index in range(count):
            mail = ctx.composer.owner_alert(BRANDING, f"owner{index}@firm.test", "en",
                                            [Fact("viewed", ctx.clock(), "a.pdf")], unsubscribe_url="https://u.test/x")
            await ctx.repository.queue_mail(connection, notification_id=f"ntf_{uuid.uuid4().hex}",
                                            tenant_id="firm", kind="owner_alert", recipient=f"owner{index}@firm.test",
                                            message_id=mail.message_id, message=bytes(mail.message), now=ctx.clock())
            ids.append(mail.message_id)
    return ids


async def test_two_workers_sharing_the_due_mails_send_each_exactly_once(settings, pool, links, clock):
    store = EventStore(pool, schema=settings.schema, topic=settings.events_topic)
    senders = [RecordingSender(), RecordingSender()]
    workers = [notifications_context(store, settings, links=links.client, email=sender, clock=clock)
               for sender in senders]
    message_ids = await queue_alerts(workers[0], 40)

    async def drain(ctx) -> None:
        while await handlers.send_due_mail(ctx):
            pass

    await asyncio.gather(*(drain(ctx) for ctx in workers))

    sent = senders[0].sent + senders[1].sent
    assert sorted(sent) == sorted(message_ids)  # every one, none twice
    assert senders[0].sent and senders[1].sent  # both replicas took a share
    assert await pool.fetchval(f"SELECT count(*) FROM {quote_ident(settings.schema)}.outgoing_mail") == 0
    assert await pool.fetchval(f"SELECT count(*) FROM {quote_ident(settings.schema)}.events"
                               " WHERE type = 'loginless.notifications.NotificationSent.v1'") == 40


@asynccontextmanager
async def stalling_smtp_server() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A server that accepts connections and never answers: a send through it hangs until it is killed."""
    connected = asyncio.Event()

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        await reader.read()  # until the client goes away
        writer.close()

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"smtp://127.0.0.1:{port}", connected
    finally:
        server.close()


async def test_a_worker_killed_in_the_middle_of_a_send_neither_loses_nor_duplicates_the_mail(
        notifications, settings, pool, mail_ui_url):
    n = notifications
    owner = n.owner
    await handlers.change_preferences(n.ctx, Preferences(tenant_id=n.tenant_id, owner_addresses=(owner,)),
                                      correlation_id="test")
    await n.publish(DocumentViewed(access_id="axs_1", document_id="doc_1", share_id="shr_1", tenant_id=n.tenant_id,
                                   link_id=str(uuid.uuid4()), viewed_at=n.clock()), subject="axs_1")
    assert await handlers.compose_due_batches(n.ctx) == 1
    table = f"{quote_ident(settings.schema)}.outgoing_mail"

    async with stalling_smtp_server() as (smtp_url, connected):
        environment = {**os.environ, **{f"NOTIFICATIONS_{key}": value for key, value in {
            "DATABASE_URL": settings.database_url, "DATABASE_SCHEMA": settings.schema,
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers, "TOPIC_PREFIX": settings.topic_prefix,
            "LINKS_URL": n.links.url, "INTERNAL_API_SECRET": INTERNAL_SECRET, "PUBLIC_URL": settings.public_url,
            "SMTP_URL": smtp_url, "SMTP_TIMEOUT_SECONDS": "600", "SEND_LEASE_SECONDS": "5",
            "POLL_SECONDS": "0.1", "HTTP_PORT": str(free_port()),
        }.items()}}
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loginless.notifications", "worker", env=environment,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(connected.wait(), 60)  # the worker claimed the mail and is sending it
            assert await pool.fetchval(f"SELECT attempts FROM {table}") == 1
        finally:
            worker.send_signal(signal.SIGKILL)
            await worker.wait()

    assert await mails_to(mail_ui_url, owner) == []  # the server never took it
    n.clock.now = datetime.now(UTC) + timedelta(seconds=6)  # the dead worker's claim (5 s on its clock) ran out
    assert await handlers.send_due_mail(n.ctx) == 1

    [mail] = await eventually(lambda: mails_to(mail_ui_url, owner), message="the alert")
    [sent] = await n.events("NotificationSent")
    assert (sent["attempts"], sent["message_id"]) == (2, f"<{mail['MessageID']}>")
    assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert await handlers.send_due_mail(n.ctx) == 0
    assert len(await mails_to(mail_ui_url, owner)) == 1


class RefusingHandler:
    """An SMTP server that refuses one mailbox for good (550), as a mail server does for an unknown user."""

    def __init__(self, refused: str) -> None:
        self.refused = refused
        self.accepted: list[str] = []

    async def handle_RCPT(self, server: SMTP, session, envelope, address: str, rcpt_options) -> str:  # noqa: N802
        if address.lower() == self.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session, envelope) -> str:  # noqa: N802
        self.accepted.extend(envelope.rcpt_tos)
        return "250 OK"


async def test_an_address_the_mail_server_refuses_is_recorded_as_bounced_and_skipped_until_settings_are_saved(
        settings, pool, links, clock):
    tenant_id, _ = await links.add_tenant("Ortega & Lane")
    gone, kept = "gone@firm.test", "kept@firm.test"
    handler = RefusingHandler(gone)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        bounce_settings = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{controller.port}"})
        ctx = notifications_context(EventStore(pool, schema=settings.schema, topic=settings.events_topic),
                                    bounce_settings, links=links.client, clock=clock)
        both = Preferences(tenant_id=tenant_id, owner_addresses=(gone, kept))
        await handlers.change_preferences(ctx, both, correlation_id="test")

        async def view(access_id: str) -> None:
            async with ctx.store.transaction() as connection:
                await handlers.record_event(ctx, _cloud_event(DocumentViewed(
                    access_id=access_id, document_id="doc_1", share_id="shr_1", tenant_id=tenant_id,
                    link_id=str(uuid.uuid4()), viewed_at=clock())), connection)
            await handlers.work_through_due(ctx)

        await view("axs_1")
        await view("axs_2")  # after the bounce: only the working address
        failed = await pool.fetch(f"SELECT data FROM {quote_ident(settings.schema)}.events"
                                  " WHERE type = 'loginless.notifications.NotificationFailed.v1'")
        assert len(failed) == 1 and '"bounced": true' in failed[0]["data"] and gone in failed[0]["data"]
        assert handler.accepted == [kept, kept]
        _, suppressed = await handlers.tenant_preferences(ctx, tenant_id)
        assert suppressed == {gone: "bounced"}

        await handlers.change_preferences(ctx, both, correlation_id="test")  # "the mailbox works again"
        assert (await handlers.tenant_preferences(ctx, tenant_id))[1] == {}
        await view("axs_3")
        assert handler.accepted == [kept, kept, kept]
        assert await pool.fetchval(f"SELECT count(*) FROM {quote_ident(settings.schema)}.events"
                                   " WHERE type = 'loginless.notifications.NotificationFailed.v1'") == 2  # tried again
    finally:
        controller.stop()


def _cloud_event(payload):
    from loginless.events import CloudEvent

    return CloudEvent(source=payload.source(), type=payload.type_name(), subject="s",
                      data=payload.model_dump(mode="json"), tenantid=payload.tenant_id, correlationid="c")


async def test_records_of_mails_sent_and_recipients_of_expired_links_are_forgotten_after_their_retention(
        notifications, settings, pool):
    n = notifications
    await queue_alerts(n.ctx, 1)
    n.ctx = replace(n.ctx, email=RecordingSender())
    await handlers.send_due_mail(n.ctx)
    link = await n.issue("upload", email="kept-for-now@example.test", name="Kept")
    await n.consume_links_events()
    schema = quote_ident(settings.schema)

    n.clock.advance(days=settings.record_retention_days - 1)
    assert await handlers.forget_old_records(n.ctx) == 0
    n.clock.advance(days=2)  # the link expired after 14 days; the mail's record is past its retention too
    assert await handlers.forget_old_records(n.ctx) == 1  # only the mail: the link expired 77 days ago

    assert await pool.fetchval(f"SELECT count(*) FROM {schema}.events WHERE stream_id LIKE 'notification:%'") == 0
    assert await pool.fetchval(f"SELECT count(*) FROM {schema}.known_links WHERE link_id = $1", link.link_id) == 1
    n.clock.advance(days=14)
    assert await handlers.forget_old_records(n.ctx) == 1
    assert await pool.fetchval(f"SELECT count(*) FROM {schema}.known_links WHERE link_id = $1", link.link_id) == 0
