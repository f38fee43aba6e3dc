"""What reaches whose inbox, and when: receipts and owner alerts of an upload, reminders on the tenant's schedule
through links (the same link again), none for a link revoked or done, a daily digest. Real PostgreSQL, the real
links service and Mailpit; time is moved by hand, never waited for."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from loginless.events.payloads.documents import DocumentAdded, DocumentDownloaded, DocumentViewed, FileUploaded
from loginless.events.payloads.payments import InvoicePaid
from loginless.events.payloads.requests_ import ClientRequestCompleted
from loginless.events.payloads.signing import DocumentSigned, SigningDeclined
from loginless.notifications import handlers
from loginless.notifications.domain import Preferences
from loginless.testkit.mailpit import mails_to
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration


def address(label: str) -> str:
    return f"{label}-{os.urandom(4).hex()}@example.test"


async def choose(notifications, **values) -> None:
    """The tenant's settings, saved as staff save them."""
    wanted = Preferences(tenant_id=notifications.tenant_id, **({"owner_addresses": (notifications.owner,)} | values))
    await handlers.change_preferences(notifications.ctx, wanted, correlation_id="test")


def uploaded(notifications, link_id: str | None, name: str, content: bytes, **values) -> FileUploaded:
    return FileUploaded(file_id=f"doc_{uuid.uuid4().hex[:12]}", tenant_id=notifications.tenant_id,
                        account_id="acc_1", folder_id="fld_1", display_name=name, size=len(content),
                        sha256=hashlib.sha256(content).hexdigest(), content_type="application/pdf",
                        link_id=link_id, uploaded_at=notifications.clock(), **values)


async def settled_mails(mail_ui_url: str, to: str, count: int) -> list[dict]:
    """The ``count`` mails ``to`` must have by now (Mailpit indexes each within moments of accepting it)."""
    async def arrived() -> list[dict] | None:
        mails = await mails_to(mail_ui_url, to)
        return mails if len(mails) >= count else None

    return await eventually(arrived, timeout=15, message=f"{count} mail(s) to {to}")


# ---- an upload --------------------------------------------------------------------------------------------------


async def test_an_upload_gives_the_guest_one_receipt_and_the_owner_one_alert_once_the_burst_is_over(
        notifications, mail_ui_url):
    n = notifications
    await choose(n)
    ana = address("ana")
    link = await n.issue("upload", name="Ana Ortiz", email=ana, language="es")
    await n.work()  # notifications hears of the link; links e-mails it
    first = uploaded(n, link.link_id, "nómina-enero.pdf", b"%PDF-1.4 january")
    second = uploaded(n, link.link_id, "nómina-febrero.pdf", b"%PDF-1.4 february")

    delivered = await n.publish(first, subject=first.file_id)
    n.clock.advance(seconds=30)
    await n.publish(second, subject=second.file_id)
    await n.publish(first, subject=first.file_id, event_id=delivered.id)  # Kafka delivers it again
    n.clock.advance(seconds=59)
    await n.work()
    assert [m["Subject"] for m in await mails_to(mail_ui_url, ana)] == [
        "Ortega & Lane: un enlace seguro para subir documentos"]  # 59 s after the last file: still gathering
    n.clock.advance(seconds=2)
    await n.work()

    [_, receipt] = await settled_mails(mail_ui_url, ana, 2)
    assert receipt["Subject"] == "Ortega & Lane: hemos recibido sus 2 archivos"
    for file in (first, second):
        assert file.display_name in receipt["Text"] and f"SHA-256: {file.sha256}" in receipt["Text"]
    assert "Hola, Ana Ortiz:" in receipt["Text"] and "List-Unsubscribe" not in receipt["Headers"]
    [alert] = await settled_mails(mail_ui_url, n.owner, 1)
    assert alert["Subject"] == "Ortega & Lane: files were uploaded"
    assert alert["Text"].count("Ana Ortiz <") == 2 and "nómina-febrero.pdf" in alert["Text"]
    assert alert["Headers"]["List-Unsubscribe-Post"] == ["List-Unsubscribe=One-Click"]
    [unsubscribe_url] = alert["Headers"]["List-Unsubscribe"]
    assert unsubscribe_url.startswith("<https://guests.example.test/unsubscribe/")
    sent = await n.events("NotificationSent")
    assert sorted(e["kind"] for e in sent) == ["owner_alert", "upload_receipt"]
    assert {e["message_id"] for e in sent} == {receipt["MessageID"].join("<>"), alert["MessageID"].join("<>")}


# ---- reminders --------------------------------------------------------------------------------------------------


async def test_a_pending_upload_link_is_reminded_on_schedule_with_the_same_url_and_not_after_the_upload(
        notifications, mail_ui_url):
    n = notifications
    await choose(n)  # default schedule: 2 days after sending, then every 3, and 1 day before expiry
    bob = address("bob")
    link = await n.issue("upload", name="Bob", email=bob)
    await n.work()
    n.clock.advance(days=1, hours=23)
    await n.work()
    assert len(await settled_mails(mail_ui_url, bob, 1)) == 1  # not yet

    n.clock.advance(hours=1)
    await n.work()
    [sent, reminder] = await settled_mails(mail_ui_url, bob, 2)
    assert reminder["Subject"] == "Ortega & Lane: a reminder of your secure link to upload documents"
    assert link.url in reminder["Text"] and link.url in sent["Text"]  # the same link, not a new token
    [reminded] = await n.events("ReminderSent")
    assert (reminded["link_id"], reminded["kind"], reminded["number"]) == (link.link_id, "pending", 1)
    assert link.url.rsplit("/", 1)[1] not in str(await n.events("ReminderSent"))

    await n.publish(uploaded(n, link.link_id, "dni.pdf", b"%PDF-1.4 id"), subject="doc_1")
    n.clock.advance(days=3)
    await n.work()
    mails = await settled_mails(mail_ui_url, bob, 3)  # the receipt comes; a second reminder does not
    assert ["reminder" in m["Subject"] for m in mails] == [False, True, False]
    assert [e["reason"] for e in await n.events("RemindersStopped")] == ["done"]


async def test_a_revoked_link_gets_no_reminder_even_when_its_revocation_arrives_late(notifications, mail_ui_url):
    n = notifications
    await choose(n)
    early, late = address("early"), address("late")
    revoked_early = await n.issue("upload", email=early)
    revoked_late = await n.issue("upload", email=late)
    await n.work()
    await n.links.client.revoke(n.tenant_id, revoked_early.link_id)
    await n.consume_links_events()
    await n.links.client.revoke(n.tenant_id, revoked_late.link_id)  # notifications has not heard of this one

    n.clock.advance(days=2)
    await handlers.work_through_due(n.ctx)  # the late one is due: links refuses to send it again
    await n.work()

    for to in (early, late):
        assert len(await mails_to(mail_ui_url, to)) == 1  # only the link's own e-mail
    assert await n.events("ReminderSent") == []
    assert sorted(e["reason"] for e in await n.events("RemindersStopped")) == ["revoked", "revoked"]


async def test_a_new_schedule_applies_at_once_to_the_links_already_awaited(notifications, mail_ui_url):
    n = notifications
    await choose(n)
    carla = address("carla")
    await n.issue("upload", email=carla)
    await n.work()
    await choose(n, reminders=Preferences(tenant_id="x").reminders.__class__(first_after=timedelta(hours=1)))

    n.clock.advance(hours=1)
    await n.work()

    assert ["reminder" in m["Subject"] for m in await settled_mails(mail_ui_url, carla, 2)] == [False, True]


# ---- the owner's daily digest -----------------------------------------------------------------------------------


async def test_a_daily_digest_gathers_a_days_views_and_downloads_into_one_mail(notifications, mail_ui_url):
    n = notifications
    n.clock.now = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    await choose(n, owner_alerts="daily", digest_hour=8, timezone="UTC")
    viewer = address("viewer")
    link = await n.issue("view", name="Dana", email=viewer)
    await n.work()
    await n.publish(DocumentAdded(document_id="doc_tax", tenant_id=n.tenant_id, account_id="acc_1",
                                  display_name="Renta 2025.pdf", size=10, sha256="0" * 64,
                                  content_type="application/pdf", added_at=n.clock()), subject="doc_tax")
    for hours, kind in ((1, DocumentViewed), (5, DocumentViewed), (9, DocumentDownloaded)):
        n.clock.advance(hours=hours)
        at = {"viewed_at" if kind is DocumentViewed else "downloaded_at": n.clock()}
        await n.publish(kind(access_id=f"axs_{uuid.uuid4().hex[:8]}", document_id="doc_tax", share_id="shr_1",
                             tenant_id=n.tenant_id, link_id=link.link_id, **at), subject="axs")
        await n.work()
    assert await mails_to(mail_ui_url, n.owner) == []  # 00:30 the next day: the digest is due at 08:00

    n.clock.now = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    await n.work()
    n.clock.advance(hours=1)
    await n.publish(DocumentViewed(access_id="axs_next", document_id="doc_tax", share_id="shr_1",
                                   tenant_id=n.tenant_id, link_id=link.link_id, viewed_at=n.clock()), subject="axs")
    await n.work()  # a view after the digest waits for the next one

    [digest] = await settled_mails(mail_ui_url, n.owner, 1)
    assert digest["Subject"] == "Ortega & Lane: daily summary, December 8, 2026"
    assert "3 events" in digest["Text"]
    assert digest["Text"].count('Dana <') == 3 and digest["Text"].count('"Renta 2025.pdf"') == 3
    assert "downloaded" in digest["Text"]
    assert len(await mails_to(mail_ui_url, n.owner)) == 1


# ---- the other actions' events ----------------------------------------------------------------------------------


async def test_a_signature_a_decline_a_payment_and_an_answered_request_each_alert_the_owner_and_end_reminders(
        notifications, mail_ui_url):
    n = notifications
    await choose(n, language="es")
    signer, payer, respondent = address("signer"), address("payer"), address("respondent")
    sign_link = await n.issue("sign", name="Eva", email=signer)
    pay_link = await n.issue("pay", email=payer)
    invoice_id = (await n.links.client.get(pay_link.link_id)).resource_id
    request_link = await n.issue("request", name="Rosa", email=respondent, language="es")
    await n.work()
    now = n.clock()
    await n.publish(DocumentSigned(signature_request_id="sig_1", tenant_id=n.tenant_id, document_id="doc_1",
                                   signer_id="s1", signed_at=now, document_sha256_before="a" * 64,
                                   document_sha256_after="b" * 64, link_id=sign_link.link_id), subject="sig_1")
    await n.publish(SigningDeclined(signature_request_id="sig_2", tenant_id=n.tenant_id, signer_id="s2",
                                    reason="wrong amount", declined_at=now, signer_name="Iker"), subject="sig_2")
    await n.publish(InvoicePaid(invoice_id=invoice_id, tenant_id=n.tenant_id, amount_minor=123450,
                                currency="EUR", paid_at=now, provider="test", provider_payment_id="pi_1"),
                    subject=invoice_id)  # paid through any link: this one's reminders end too
    await n.publish(ClientRequestCompleted(client_request_id="req_1", tenant_id=n.tenant_id, completed_at=now,
                                           link_id=request_link.link_id, title="Datos 2025"), subject="req_1")
    n.clock.advance(days=3)
    await n.work()

    alerts = await settled_mails(mail_ui_url, n.owner, 4)
    assert sorted(m["Subject"] for m in alerts) == [
        "Ortega & Lane: se ha firmado un documento", "Ortega & Lane: se ha pagado una factura",
        "Ortega & Lane: se ha respondido una solicitud", "Ortega & Lane: un firmante ha rechazado firmar"]
    texts = " ".join(m["Text"] for m in alerts)
    assert "Iker ha rechazado firmar sig_2: «wrong amount»" in texts
    assert f"Se ha pagado la factura {invoice_id}: 1.234,50\xa0€" in texts  # money as Spain writes it
    assert "Rosa <" in texts and "«Datos 2025»" in texts
    [_, receipt] = await settled_mails(mail_ui_url, respondent, 2)
    assert receipt["Subject"] == "Ortega & Lane: hemos recibido sus respuestas" and "«Datos 2025»" in receipt["Text"]
    assert await n.events("ReminderSent") == []  # three days on, none of the three links is awaited any more
    assert [e["reason"] for e in await n.events("RemindersStopped")] == ["done"] * 3


async def test_when_a_signer_declines_the_other_signers_still_awaited_are_told_it_stopped(notifications, mail_ui_url):
    n = notifications
    await choose(n)
    decliner, other = address("decliner"), address("other")
    envelope_id = f"env_{uuid.uuid4().hex[:12]}"
    from loginless.links.views import IssueLinksIn, RecipientIn

    first, second = (await n.links.client.issue(n.tenant_id, IssueLinksIn(
        action="sign", resource_id=envelope_id, recipients=[
            RecipientIn(email=decliner, name="Iker", delivery="email"),
            RecipientIn(email=other, name="Eva", language="es", delivery="email")]))).links
    await n.work()
    await n.publish(SigningDeclined(signature_request_id=envelope_id, tenant_id=n.tenant_id, signer_id="r1",
                                    reason="wrong amount", declined_at=n.clock(), signer_name="Iker",
                                    link_id=first.link_id, title="Contrato de préstamo"), subject=envelope_id)
    await n.work()

    [_, notice] = await settled_mails(mail_ui_url, other, 2)  # the link, then the notice
    assert notice["Subject"] == "Ortega & Lane: se ha detenido una solicitud de firma"
    assert "Iker ha rechazado firmar «Contrato de préstamo»" in notice["Text"] and "«wrong amount»" in notice["Text"]
    assert [m["Subject"] for m in await mails_to(mail_ui_url, decliner)] == [
        m["Subject"] for m in (await mails_to(mail_ui_url, decliner))[:1]]  # the decliner gets no notice
    stopped = {e["link_id"]: e["reason"] for e in await n.events("RemindersStopped")}
    assert stopped[first.link_id] == stopped[second.link_id] == "done"


async def test_an_envelopes_own_reminder_schedule_is_followed_for_its_signers_whatever_arrives_first(
        notifications, mail_ui_url):
    n = notifications
    await choose(n)  # the firm's schedule: the first reminder 2 days after sending
    from loginless.events.payloads.signing import EnvelopeReminders, SigningTurnStarted
    from loginless.links.views import IssueLinksIn, RecipientIn

    own = EnvelopeReminders(first_after_seconds=3600 * 6, interval_seconds=86400 * 10,
                            expiry_warning_before_seconds=0, max_reminders=1)
    signers = {}
    for order in ("schedule first", "link first"):
        envelope_id, signer = f"env_{uuid.uuid4().hex[:12]}", address("signer")
        turn = SigningTurnStarted(envelope_id=envelope_id, tenant_id=n.tenant_id, group=1, recipient_ids=["r1"],
                                  until=n.clock() + timedelta(days=7), started_at=n.clock(), reminders=own)
        if order == "schedule first":
            await n.publish(turn, subject=envelope_id)
        await n.links.client.issue(n.tenant_id, IssueLinksIn(action="sign", resource_id=envelope_id, recipients=[
            RecipientIn(email=signer, delivery="email")]))
        await n.work()
        if order == "link first":
            await n.publish(turn, subject=envelope_id)
            await n.work()
        signers[order] = signer
    other = address("other")
    await n.issue("sign", email=other)  # another resource: the firm's schedule

    n.clock.advance(hours=6, minutes=1)
    await n.work()

    for signer in signers.values():
        [_, reminder] = await settled_mails(mail_ui_url, signer, 2)
        assert "reminder" in reminder["Subject"]
    assert len(await settled_mails(mail_ui_url, other, 1)) == 1  # not before two days
    n.clock.advance(days=3)
    await n.work()
    for signer in signers.values():  # at most one reminder, as the sender chose
        assert len(await mails_to(mail_ui_url, signer)) == 2
