"""Delivery by the worker: e-mail through real SMTP into Mailpit, SMS into the development outbox file, and
retries that end in LinkDeliveryFailed."""

import asyncio
import os
import socket
import stat
from datetime import timedelta

import httpx
import pytest

from loginless.links.bootstrap import create_worker
from loginless.links.delivery import DeliveryWorker
from loginless.links.messages import MessageComposer
from loginless.links.senders import OutboxFileSmsSender
from loginless.shared.guest.i18n import format_date_time
from loginless.shared.mail import SmtpEmailSender
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration


async def mails_to(mail_ui_url: str, address: str) -> list[dict]:
    """Every message Mailpit holds for ``address``, in full (subject, text and HTML parts, headers)."""
    async with httpx.AsyncClient(base_url=mail_ui_url, timeout=10) as mailpit:
        found = (await mailpit.get("/api/v1/search", params={"query": f"to:{address}"})).json()["messages"]
        return [(await mailpit.get(f"/api/v1/message/{message['ID']}")).json() for message in found]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def running_worker(settings, clock, pool, smtp_url):
    """The links worker exactly as ``python -m loginless.links worker`` wires it (relay, delivery, housekeeping)."""
    stop = asyncio.Event()
    task = asyncio.create_task(create_worker(settings, clock=clock).run(stop))
    yield
    stop.set()
    await asyncio.wait_for(task, 30)


async def test_each_recipient_gets_an_email_in_their_language_with_the_firms_branding(
        client, staff, issue, running_worker, mail_ui_url, stream_types, pool, settings, clock):
    english, spanish = f"en-{os.urandom(4).hex()}@example.test", f"es-{os.urandom(4).hex()}@example.test"
    issued = await issue(client, staff, action="sign", recipients=[
        {"name": "Ana Ortiz", "email": english, "delivery": "email"},
        {"name": "Luis Pérez", "email": spanish, "language": "es", "delivery": "email"}])
    expires_at = clock.now + timedelta(days=7)

    [in_english] = await eventually(lambda: mails_to(mail_ui_url, english), timeout=30, message="the e-mail")
    [in_spanish] = await eventually(lambda: mails_to(mail_ui_url, spanish), timeout=30, message="the e-mail")

    assert in_english["Subject"] == "Ortega & Lane Tax Advisors: a secure link to sign a document"
    assert in_spanish["Subject"] == "Ortega & Lane Tax Advisors: un enlace seguro para firmar un documento"
    for mail, link, expiry in ((in_english, issued[0], f"The link expires on {format_date_time(expires_at, 'en')}."),
                               (in_spanish, issued[1], f"El enlace caduca el {format_date_time(expires_at, 'es')}.")):
        assert mail["From"] == {"Name": "Ortega & Lane Tax Advisors", "Address": "no-reply@links.test"}
        assert mail["ReplyTo"] == [{"Name": "Front desk", "Address": "desk@ortega-lane.test"}]
        for part in (mail["Text"], mail["HTML"]):
            assert link["url"] in part and expiry in part
            assert "desk@ortega-lane.test" in part and "+34 600 111 222" in part
        assert "#0b6e4f" in mail["HTML"]
    assert "Hola, Luis Pérez:" in in_spanish["Text"] and "Hello Ana Ortiz," in in_english["Text"]

    async def delivered() -> bool:
        return all([await stream_types(link["link_id"]) == ["LinkIssued", "LinkDelivered"] for link in issued])

    await eventually(delivered, message="LinkDelivered for both links")
    assert await pool.fetchval(f'SELECT count(*) FROM "{settings.schema}".pending_deliveries') == 0
    view = (await client.get(f"/v1/links/{issued[0]['link_id']}", headers=staff.headers)).json()
    assert view["delivery_status"] == "delivered"


async def test_an_sms_goes_to_the_outbox_file_with_the_link_and_its_expiry(
        client, staff, issue, delivery_worker, sms_outbox, settings, stream_types, clock):
    link = (await issue(client, staff, action="pay", recipients=[
        {"phone": "+34 655 444 333", "language": "es", "delivery": "sms"}]))[0]

    await delivery_worker.deliver_due()

    [sms] = sms_outbox()
    assert (sms["to"], sms["link_id"]) == ("+34655444333", link["link_id"])
    assert link["url"] in sms["body"] and "pagar una factura" in sms["body"]
    assert format_date_time(clock.now + timedelta(days=30), "es") in sms["body"]
    assert stat.S_IMODE(os.stat(settings.sms_outbox_path).st_mode) == 0o600  # it holds live links
    assert await stream_types(link["link_id"]) == ["LinkIssued", "LinkDelivered"]


async def test_a_delivery_that_keeps_failing_is_given_up_visibly_and_its_token_erased(
        client, staff, issue, ctx, settings, pool, stream_types):
    link = (await issue(client, staff, recipients=[{"email": "nobody@example.test", "delivery": "email"}]))[0]
    unreachable = DeliveryWorker(
        ctx, composer=MessageComposer(settings.smtp_from),
        email=SmtpEmailSender(f"smtp://127.0.0.1:{closed_port()}", timeout=2),
        sms=OutboxFileSmsSender(settings.sms_outbox_path), max_attempts=3, retry_seconds=0.05, poll_seconds=0.05,
        send_timeout_seconds=2)

    async def given_up() -> bool:
        await unreachable.deliver_due()
        return await pool.fetchval(f'SELECT count(*) = 0 FROM "{settings.schema}".pending_deliveries')

    await eventually(given_up, timeout=30, message="the delivery given up")
    assert await stream_types(link["link_id"]) == ["LinkIssued", "LinkDeliveryFailed"]
    failed = await pool.fetchrow(f'SELECT data FROM "{settings.schema}".events WHERE type LIKE $1',
                                 "%LinkDeliveryFailed%")
    assert '"attempts": 3' in failed["data"] and '"channel": "email"' in failed["data"]
    assert link["url"].rsplit("/", 1)[1] not in failed["data"]
    view = (await client.get(f"/v1/links/{link['link_id']}", headers=staff.headers)).json()
    assert (view["delivery_status"], view["status"]) == ("failed", "active")  # the URL itself still works


async def test_a_link_revoked_before_it_was_sent_is_not_sent(client, staff, issue, delivery_worker, sms_outbox,
                                                             stream_types):
    link = (await issue(client, staff, recipients=[{"phone": "+34 666 000 444", "delivery": "sms"}]))[0]
    await client.post(f"/v1/links/{link['link_id']}/revoke", headers=staff.headers)

    await delivery_worker.deliver_due()

    assert sms_outbox() == []
    assert await stream_types(link["link_id"]) == ["LinkIssued", "LinkRevoked", "LinkDeliveryFailed"]



async def test_a_link_sent_again_is_the_same_url_said_as_a_reminder_and_its_kept_token_ends_with_it(
        client, staff, issue, delivery_worker, sms_outbox, settings, pool, stream_types):
    link = (await issue(client, staff, action="upload", recipients=[
        {"phone": "+34 677 000 555", "delivery": "sms"}]))[0]
    await delivery_worker.deliver_due()

    resent = await client.post(f"/v1/links/{link['link_id']}/resend", headers=staff.headers)
    again = await client.post(f"/v1/links/{link['link_id']}/resend", headers=staff.headers)  # before it went out
    await delivery_worker.deliver_due()

    assert (resent.status_code, again.status_code) == (202, 202)
    first, reminder = sms_outbox()  # two resends queued before the worker ran are one message
    assert link["url"] in first["body"] and link["url"] in reminder["body"]
    assert "reminder" in reminder["body"] and "reminder" not in first["body"]
    # A reminder is announced by whoever asked for it; the link's own stream reports only its first delivery.
    assert await stream_types(link["link_id"]) == ["LinkIssued", "LinkDelivered"]

    kept = f'SELECT count(*) FROM "{settings.schema}".resendable_tokens WHERE link_id = $1'
    assert await pool.fetchval(kept, link["link_id"]) == 1
    await client.post(f"/v1/links/{link['link_id']}/revoke", headers=staff.headers)
    assert await pool.fetchval(kept, link["link_id"]) == 0
    ended = await client.post(f"/v1/links/{link['link_id']}/resend", headers=staff.headers)
    assert ended.status_code == 410 and ended.headers["content-type"] == "application/problem+json"


async def test_a_link_issued_without_delivery_is_refused_a_resend_with_a_problem(client, staff, issue):
    link = (await issue(client, staff))[0]
    refused = await client.post(f"/v1/links/{link['link_id']}/resend", headers=staff.headers)
    assert refused.status_code == 409 and refused.json()["type"].endswith("link-not-resendable")
