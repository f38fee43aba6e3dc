"""Notifications' use cases: staff preferences, the one-click unsubscribe, what each consumed event means, and the
worker's three rounds (reminders due, batches due, mails due).

The services that own the actions only publish events; this service decides whom to tell. Every mail goes the
same way: a fact becomes a row in ``mail_items`` in the consumer's transaction (with its inbox record, so a
redelivered event adds nothing); a batch whose last fact is due becomes one composed mail in ``outgoing_mail``;
a claimed mail is sent outside any transaction and its outcome recorded as an event with the row's erasure.
docs/notifications.md says why each step is where it is.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import structlog

from loginless.events import CloudEvent
from loginless.events.catalog import UnknownEventType, event_class, registered_events
from loginless.events.payloads import documents, links, payments, requests_, signing
from loginless.links.client import LinkGone, LinkNotFound, LinkNotResendable, LinksApi, LinksUnavailable
from loginless.notifications.domain import (
    ChangePreferences,
    CreateEndpoint,
    DeleteEndpoint,
    EndpointCommand,
    Notification,
    PendingAction,
    PendingCommand,
    Preferences,
    RecordOutcome,
    RecordWebhookOutcome,
    ReminderNotDue,
    ReminderSchedule,
    ResourceReminders,
    RotateSecret,
    SendReminder,
    SetResourceReminders,
    StopReminders,
    TrackAction,
    Unsubscribe,
    WebhookDelivery,
    WebhookEndpoint,
    check_event_types,
    default_preferences,
    endpoint_stream,
    next_digest_at,
    notification_stream,
    pending_stream,
    preferences_stream,
    resource_reminders_stream,
    webhook_delivery_stream,
)
from loginless.notifications.mails import FACT_FIELDS, ComposedMail, Fact, MailComposer
from loginless.notifications.repository import (
    DeliveryRow,
    DueMail,
    DueWebhook,
    EndpointRow,
    KnownLink,
    MailBatch,
    NotificationsRepository,
    WebhooksRepository,
)
from loginless.notifications.settings import NotificationsSettings
from loginless.notifications.unsubscribe import UnsubscribeLinks
from loginless.notifications.webhooks import SendResult, WebhookSender, check_endpoint_url, new_secret
from loginless.payments.client import PaymentsApi, PaymentsUnavailable
from loginless.payments.money import formatted as money_written  # payments' own: Babel, ISO 4217 digits
from loginless.shared.branding import Branding
from loginless.shared.cipher import DataCipher
from loginless.shared.clock import Clock, utc_now
from loginless.shared.errors import DependencyUnavailable, NotFound
from loginless.shared.eventstore import Cause, DeciderRunner, EventStore, Projections, database_errors
from loginless.shared.eventstore.runner import retrying_on_conflict
from loginless.shared.mail import PermanentDeliveryError, RawEmailSender

log = structlog.get_logger(__name__)

MAX_RETRY_DELAY = timedelta(hours=1)
ROUND_LIMIT = 100
# Every service whose events can tell someone something: the topics consumed (the gateway publishes none).
WATCHED_SERVICES = ("links", "documents", "signing", "payments", "requests")


@dataclass(frozen=True)
class NotificationsContext:
    settings: NotificationsSettings
    store: EventStore
    projections: Projections
    preferences: DeciderRunner[Preferences, ChangePreferences | Unsubscribe]
    pending: DeciderRunner[PendingAction, PendingCommand]
    notifications: DeciderRunner[Notification, RecordOutcome]
    resource_reminders: DeciderRunner[ResourceReminders, SetResourceReminders]
    repository: NotificationsRepository
    links: LinksApi
    payments: PaymentsApi | None  # the receipts of payments, attached to the payers' mails
    composer: MailComposer
    unsubscribe_links: UnsubscribeLinks
    email: RawEmailSender
    webhooks: Webhooks
    clock: Clock = utc_now


@dataclass(frozen=True)
class Webhooks:
    """What webhooks need: their aggregates' runners, their tables, the secrets' cipher and the sender."""

    endpoints: DeciderRunner[WebhookEndpoint, EndpointCommand]
    deliveries: DeciderRunner[WebhookDelivery, RecordWebhookOutcome]
    repository: WebhooksRepository
    cipher: DataCipher | None  # None without NOTIFICATIONS_WEBHOOK_DATA_KEY: no endpoint can be created
    sender: WebhookSender


# ---- staff: preferences -----------------------------------------------------------------------------------


async def tenant_preferences(ctx: NotificationsContext, tenant_id: str) -> tuple[Preferences, dict[str, str]]:
    """The tenant's preferences (the defaults until it saves some) and the addresses its alerts skip, with why."""
    async with database_errors():
        preferences, _ = await ctx.preferences.load(preferences_stream(tenant_id))
        suppressed = await ctx.repository.suppressed(ctx.store.pool, tenant_id)
    return preferences or default_preferences(tenant_id), suppressed


async def change_preferences(ctx: NotificationsContext, wanted: Preferences, *, correlation_id: str) -> Preferences:
    outcome = await ctx.preferences.run(preferences_stream(wanted.tenant_id),
                                        lambda: ChangePreferences(wanted, ctx.clock()), Cause(correlation_id))
    assert outcome.state is not None
    log.info("notification settings saved", tenant_id=wanted.tenant_id, changed=bool(outcome.events))
    return outcome.state


async def unsubscribe(ctx: NotificationsContext, token: str, *, correlation_id: str) -> str:
    """Stop the tenant's alerts to the address the signed token names; returns the address. Repeating it changes
    nothing. A token that was not made here is ``NotFound``."""
    signed = ctx.unsubscribe_links.read(token)
    if signed is None:
        raise NotFound("this unsubscribe link is not valid")
    tenant_id, address = signed
    await ctx.preferences.run(preferences_stream(tenant_id), lambda: Unsubscribe(tenant_id, address, ctx.clock()),
                              Cause(correlation_id))
    log.info("owner alerts unsubscribed", tenant_id=tenant_id)
    return address


# ---- consumed events ----------------------------------------------------------------------------------------


async def record_event(ctx: NotificationsContext, event: CloudEvent, connection: asyncpg.Connection) -> None:
    """A consumer's effect, in its inbox transaction: what the event means for reminders and whom it tells.
    Types this version does not know, or does not care about, change nothing."""
    try:
        payload = event_class(event.type).model_validate(event.data)
    except UnknownEventType:
        return  # a newer event this version does not know: skipped, never a stalled partition
    cause = Cause(event.correlationid or event.id, causation_id=event.id)
    now = ctx.clock()
    await _queue_webhooks(ctx, connection, event, now)
    match payload:
        case links.LinkIssued() as issued:
            await _link_issued(ctx, connection, issued, cause, now)
        case links.LinkRevoked(link_id=link_id, tenant_id=tenant_id):
            await _stop(ctx, connection, link_id, tenant_id, "revoked", cause, now)
        case links.LinkExpired(link_id=link_id, tenant_id=tenant_id):
            await _stop(ctx, connection, link_id, tenant_id, "expired", cause, now)
        case links.LinkUsed(link_id=link_id, tenant_id=tenant_id, uses=uses):
            known = await ctx.repository.known_link(connection, link_id)
            if known is not None and known.max_uses is not None and uses >= known.max_uses:
                await _stop(ctx, connection, link_id, tenant_id, "used_up", cause, now)
        case documents.DocumentAdded() as added:
            await ctx.repository.remember_document(connection, document_id=added.document_id,
                                                   tenant_id=added.tenant_id, display_name=added.display_name,
                                                   added_at=added.added_at)
        case documents.FileUploaded() as uploaded:
            await _file_uploaded(ctx, connection, uploaded, cause, now)
        case documents.DocumentViewed() | documents.DocumentDownloaded():
            await _document_accessed(ctx, connection, payload, cause, now)
        case signing.DocumentSigned() as signed:
            known = await ctx.repository.known_link(connection, signed.link_id)
            name = await ctx.repository.document_name(connection, signed.document_id) or signed.document_id
            await _alert_owners(ctx, connection, signed.tenant_id, f"event:{event.id}", now, Fact(
                "signed", signed.signed_at, name, who=known.recipient if known else None))
            if signed.link_id:
                await _stop(ctx, connection, signed.link_id, signed.tenant_id, "done", cause, now)
        case signing.SigningDeclined() as declined:
            await _signing_declined(ctx, connection, declined, event, cause, now)
        case signing.SigningTurnStarted(reminders=chosen) as turn if chosen is not None:
            schedule = ReminderSchedule(
                enabled=chosen.enabled, first_after=timedelta(seconds=chosen.first_after_seconds),
                interval=timedelta(seconds=chosen.interval_seconds),
                expiry_warning_before=timedelta(seconds=chosen.expiry_warning_before_seconds),
                max_reminders=chosen.max_reminders)
            await ctx.resource_reminders.run_in(connection, resource_reminders_stream(turn.envelope_id),
                                                SetResourceReminders(turn.tenant_id, turn.envelope_id, schedule, now),
                                                cause)
        case requests_.ClientRequestCompleted() as completed:
            await _request_completed(ctx, connection, completed, cause, now)
        case payments.PaymentReceived() as received:
            await _payment_received(ctx, connection, received, now)
        case payments.InvoicePaid() as paid:
            preferences = await ctx.repository.preferences(connection, paid.tenant_id)
            language = preferences.language if preferences else "en"  # the alerts' language
            await _alert_owners(ctx, connection, paid.tenant_id, f"event:{event.id}", now, Fact(
                "paid", paid.paid_at, paid.invoice_id,
                amount=money_written(paid.amount_minor, paid.currency, language)))
            # Anyone may pay an invoice through any of its links: every link awaiting it is done.
            for link_id in await ctx.repository.awaited_links(connection, tenant_id=paid.tenant_id,
                                                              resource_id=paid.invoice_id):
                await _stop(ctx, connection, link_id, paid.tenant_id, "done", cause, now)


async def _signing_declined(ctx: NotificationsContext, connection: asyncpg.Connection,
                            declined: signing.SigningDeclined, event: CloudEvent, cause: Cause, now: datetime) -> None:
    """The owner is alerted; the envelope's other recipients still awaited are told it stopped (nothing for them to
    sign), and their reminders end."""
    known = await ctx.repository.known_link(connection, declined.link_id)
    who = declined.signer_name or (known.recipient if known else None)
    fact = Fact("declined", declined.declined_at, declined.title or declined.signature_request_id, who=who,
                reason=declined.reason)
    await _alert_owners(ctx, connection, declined.tenant_id, f"event:{event.id}", now, fact)
    others = await ctx.repository.awaited_links(connection, tenant_id=declined.tenant_id,
                                                resource_id=declined.signature_request_id)
    for link_id in [declined.link_id, *others]:
        if not link_id:
            continue
        other = await ctx.repository.known_link(connection, link_id)
        if link_id != declined.link_id and other is not None and other.recipient_email:
            await ctx.repository.add_mail_item(
                connection, batch_key=f"decline:{declined.signature_request_id}:{other.recipient_email.lower()}",
                tenant_id=declined.tenant_id, kind="decline_notice", recipient=other.recipient_email,
                language=other.recipient_language or "en",
                item=fact.as_item() | {"name": other.recipient_name}, due_at=now)
        await _stop(ctx, connection, link_id, declined.tenant_id, "done", cause, now)


async def _link_issued(ctx: NotificationsContext, connection: asyncpg.Connection, issued: links.LinkIssued,
                       cause: Cause, now: datetime) -> None:
    await ctx.repository.remember_link(connection, KnownLink(
        link_id=issued.link_id, tenant_id=issued.tenant_id, action=issued.action, resource_id=issued.resource_id,
        recipient_name=issued.recipient_name, recipient_email=issued.recipient_email,
        recipient_language=issued.recipient_language, expires_at=issued.expires_at, max_uses=issued.max_uses,
        delivery=issued.delivery))
    if issued.delivery == "none":
        return  # links has no way to send it again: whoever got the URL reminds its holder
    await ctx.pending.run_in(connection, pending_stream(issued.link_id), TrackAction(
        link_id=issued.link_id, tenant_id=issued.tenant_id, action=issued.action, resource_id=issued.resource_id,
        issued_at=issued.issued_at, expires_at=issued.expires_at, now=now), cause)


async def _file_uploaded(ctx: NotificationsContext, connection: asyncpg.Connection,
                         uploaded: documents.FileUploaded, cause: Cause, now: datetime) -> None:
    known = await ctx.repository.known_link(connection, uploaded.link_id)
    uploader = _named(uploaded.uploader_name, uploaded.uploader_email) or (known.recipient if known else None)
    at = uploaded.uploaded_at or now
    fact = Fact("uploaded", at, uploaded.display_name, who=uploader, size=uploaded.size, sha256=uploaded.sha256)
    burst = uploaded.link_id or uploaded.upload_request_id or uploaded.file_id
    quiet_until = now + timedelta(seconds=ctx.settings.receipt_quiet_seconds)
    await _alert_owners(ctx, connection, uploaded.tenant_id, f"upload:{burst}", quiet_until, fact)
    receipt_to = uploaded.uploader_email or (known.recipient_email if known else None)
    if receipt_to:
        language = known.recipient_language if known and known.recipient_language else "en"
        await ctx.repository.add_mail_item(
            connection, batch_key=f"receipt:{burst}:{receipt_to.lower()}", tenant_id=uploaded.tenant_id,
            kind="upload_receipt", recipient=receipt_to, language=language,
            item=fact.as_item() | {"name": uploaded.uploader_name or (known.recipient_name if known else None)},
            due_at=quiet_until)
    if uploaded.link_id:
        await _stop(ctx, connection, uploaded.link_id, uploaded.tenant_id, "done", cause, now)


async def _request_completed(ctx: NotificationsContext, connection: asyncpg.Connection,
                             completed: requests_.ClientRequestCompleted, cause: Cause, now: datetime) -> None:
    known = await ctx.repository.known_link(connection, completed.link_id)
    who = _named(completed.respondent_name, completed.respondent_email) or (known.recipient if known else None)
    fact = Fact("answered", completed.completed_at, completed.title or completed.client_request_id, who=who)
    await _alert_owners(ctx, connection, completed.tenant_id, f"request:{completed.client_request_id}:{who}", now,
                        fact)
    receipt_to = completed.respondent_email or (known.recipient_email if known else None)
    if receipt_to:
        language = known.recipient_language if known and known.recipient_language else "en"
        await ctx.repository.add_mail_item(
            connection, batch_key=f"receipt:request:{completed.client_request_id}:{receipt_to.lower()}",
            tenant_id=completed.tenant_id, kind="request_receipt", recipient=receipt_to, language=language,
            item=fact.as_item() | {"name": completed.respondent_name or (known.recipient_name if known else None)},
            due_at=now)
    if completed.link_id:
        await _stop(ctx, connection, completed.link_id, completed.tenant_id, "done", cause, now)


async def _payment_received(ctx: NotificationsContext, connection: asyncpg.Connection,
                            received: payments.PaymentReceived, now: datetime) -> None:
    """The payer's receipt: a mail with the receipt PDF payments draws, once per payment (the batch is the
    payment's; the inbox drops a redelivered event). Who gave no address -- a transfer staff recorded without
    one -- gets none; the owner hears of the money through InvoicePaid."""
    if not received.payer_email:
        return
    known = await ctx.repository.known_link(connection, received.link_id)
    language = known.recipient_language if known and known.recipient_language else "en"
    # Written as the payer's language writes money (payments' Babel formatting, as on the pay page and the receipt)
    fact = Fact("received", received.received_at, received.invoice_id, who=received.payer_name,
                amount=money_written(received.amount_minor, received.currency, language))
    await ctx.repository.add_mail_item(
        connection, batch_key=f"receipt:payment:{received.payment_id}", tenant_id=received.tenant_id,
        kind="payment_receipt", recipient=received.payer_email, language=language,
        item=fact.as_item() | {"name": received.payer_name, "invoice_id": received.invoice_id,
                               "payment_id": received.payment_id}, due_at=now)


async def _document_accessed(ctx: NotificationsContext, connection: asyncpg.Connection,
                             accessed: documents.DocumentViewed | documents.DocumentDownloaded, cause: Cause,
                             now: datetime) -> None:
    known = await ctx.repository.known_link(connection, accessed.link_id)
    name = await ctx.repository.document_name(connection, accessed.document_id) or accessed.document_id
    if isinstance(accessed, documents.DocumentViewed):
        fact = Fact("viewed", accessed.viewed_at, name, who=known.recipient if known else None)
    else:
        fact = Fact("downloaded", accessed.downloaded_at, name, who=known.recipient if known else None)
    await _alert_owners(ctx, connection, accessed.tenant_id, f"access:{accessed.access_id}", now, fact)
    await _stop(ctx, connection, accessed.link_id, accessed.tenant_id, "done", cause, now)


async def _alert_owners(ctx: NotificationsContext, connection: asyncpg.Connection, tenant_id: str, batch: str,
                        due_at: datetime, fact: Fact) -> None:
    """The fact for each of the tenant's alert addresses: in a batch of its own (``immediate``) or in the next
    daily digest (``daily``)."""
    preferences = await ctx.repository.preferences(connection, tenant_id)
    if preferences is None:
        return  # no addresses chosen yet
    suppressed = await ctx.repository.suppressed(connection, tenant_id)
    for address in preferences.alert_recipients():
        if address.lower() in suppressed:
            continue
        if preferences.owner_alerts == "daily":
            # A fact that arrives after its day's digest went out goes into the next one, never a second digest.
            digest_at = next_digest_at(max(fact.at, ctx.clock()), preferences.digest_hour, preferences.timezone)
            await ctx.repository.add_mail_item(
                connection, batch_key=f"digest:{tenant_id}:{digest_at.isoformat()}:{address.lower()}",
                tenant_id=tenant_id, kind="owner_digest", recipient=address, language=preferences.language,
                item=fact.as_item(), due_at=digest_at)
        else:
            await ctx.repository.add_mail_item(
                connection, batch_key=f"alert:{batch}:{address.lower()}", tenant_id=tenant_id, kind="owner_alert",
                recipient=address, language=preferences.language, item=fact.as_item(), due_at=due_at)


async def _stop(ctx: NotificationsContext, connection: asyncpg.Connection, link_id: str | None, tenant_id: str,
                reason: str, cause: Cause, now: datetime) -> None:
    """No more reminders for the link. A link that links never delivered has none to stop; one this service has
    not heard of yet may be awaited once its LinkIssued arrives, so it is stopped ahead of that."""
    if link_id is None:
        return
    known = await ctx.repository.known_link(connection, link_id)
    if known is not None and known.delivery == "none":
        return
    await ctx.pending.run_in(connection, pending_stream(link_id), StopReminders(
        link_id=link_id, tenant_id=tenant_id, reason=reason, now=now), cause)  # type: ignore[arg-type]


def _named(name: str | None, email: str | None) -> str | None:
    if name and email:
        return f"{name} <{email}>"
    return name or email


# ---- the worker's rounds ------------------------------------------------------------------------------------


async def send_due_reminders(ctx: NotificationsContext) -> int:
    """Ask links to send again every link whose reminder is due; returns how many were sent."""
    async with database_errors():
        due = await ctx.repository.due_reminders(ctx.store.pool, ctx.clock(), ROUND_LIMIT)
    sent = 0
    for link_id in due:
        try:
            sent += await _remind(ctx, link_id)
        except LinksUnavailable:
            log.warning("reminders wait for links", link_id=link_id)
            break  # the rest of the round would fail the same way; the next round tries again
    return sent


class _LinksWontSend(Exception):
    """Links refused to send the link again: the reminder decided in this transaction must roll back."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _remind(ctx: NotificationsContext, link_id: str) -> int:
    """One reminder, decided and recorded in the transaction in which links is asked to send it: if links cannot
    be reached the reminder is not recorded, and is due again next round."""
    stream = pending_stream(link_id)

    async def attempt() -> bool:
        async with ctx.store.transaction() as connection:
            if not await ctx.repository.lock_pending_action(connection, link_id):
                return False  # another worker has it
            pending, version = await ctx.pending.load(stream, connection)
            if pending is None:
                return False
            own, _ = await ctx.resource_reminders.load(resource_reminders_stream(pending.resource_id), connection)
            preferences, _ = await ctx.preferences.load(preferences_stream(pending.tenant_id), connection)
            schedule = own.schedule if own else (preferences or default_preferences(pending.tenant_id)).reminders
            try:
                outcome = await ctx.pending.run_in(connection, stream, SendReminder(schedule, ctx.clock()),
                                                   Cause(f"reminder:{link_id}"), known=(pending, version))
            except ReminderNotDue:
                return False
            try:
                await ctx.links.resend(pending.tenant_id, link_id)
            except LinkGone as gone:
                raise _LinksWontSend(gone.link_status) from gone
            except (LinkNotResendable, LinkNotFound) as refused:
                raise _LinksWontSend("not_resendable") from refused
            reminded = outcome.events[-1].payload
            log.info("reminder sent", tenant_id=pending.tenant_id, link_id=link_id,
                     kind=getattr(reminded, "kind", None), number=getattr(reminded, "number", None))
            return True

    try:
        return int(await retrying_on_conflict(attempt))
    except _LinksWontSend as refused:
        reason = refused.reason
    # The link can no longer be sent (it ended at links before its event reached us): stop for good.
    pending, _ = await ctx.pending.load(stream)
    if pending is not None:
        await ctx.pending.run(stream, lambda: StopReminders(link_id, pending.tenant_id, reason,  # type: ignore[arg-type]
                                                            ctx.clock()), Cause(f"reminder:{link_id}"))
        log.info("reminders stopped", tenant_id=pending.tenant_id, link_id=link_id, reason=reason)
    return 0


async def compose_due_batches(ctx: NotificationsContext) -> int:
    """Turn every batch whose last fact is due into one composed mail; returns how many were composed."""
    async with database_errors():
        due = await ctx.repository.due_batches(ctx.store.pool, ctx.clock(), ROUND_LIMIT)
    composed = 0
    for batch_key in due:
        try:
            composed += await _compose_batch(ctx, batch_key)
        except LinksUnavailable:
            log.warning("mails wait for the firms' branding from links", batch=batch_key.split(":", 1)[0])
            break  # the batch was rolled back whole; the next round tries again
        except PaymentsUnavailable:
            log.warning("a receipt waits for payments", batch=batch_key.split(":", 1)[0])  # kept for next round
    return composed


async def _compose_batch(ctx: NotificationsContext, batch_key: str) -> int:
    async with ctx.store.transaction() as connection:
        batch = await ctx.repository.take_batch(connection, batch_key)
        if batch is None:
            return 0  # another worker is composing it
        branding = await ctx.links.branding(batch.tenant_id)
        if branding is None:  # links never answered for this firm: roll back, keeping the facts
            raise LinksUnavailable(f"no branding known for tenant {batch.tenant_id}")
        if batch.kind == "payment_receipt":
            mail = await _payment_receipt(ctx, branding, batch)
        else:
            mail = _compose(ctx, branding, batch)
        await ctx.repository.queue_mail(
            connection, notification_id=f"ntf_{uuid.uuid4().hex}", tenant_id=batch.tenant_id, kind=batch.kind,
            recipient=batch.recipient, message_id=mail.message_id, message=bytes(mail.message), now=ctx.clock())
    return 1


async def _payment_receipt(ctx: NotificationsContext, branding: Branding, batch: MailBatch) -> ComposedMail:
    """The payer's receipt mail with the receipt PDF attached, fetched from payments while the batch is held (if
    payments cannot answer, the batch rolls back and the next round tries again)."""
    [item] = batch.items[:1]
    receipt = None
    if ctx.payments is not None:
        try:
            receipt = await ctx.payments.receipt_pdf(batch.tenant_id, item["invoice_id"], item["payment_id"],
                                                     language=batch.language)
        except NotFound:
            log.warning("payments has no receipt for the payment: the mail goes without it",
                        payment_id=item["payment_id"])
    return ctx.composer.payment_receipt(branding, batch.recipient, batch.language, _facts(batch)[0],
                                        name=item.get("name"), receipt=receipt,
                                        receipt_name=f"receipt-{item['payment_id']}.pdf")


def _facts(batch: MailBatch) -> list[Fact]:
    return [Fact.of_item({key: value for key, value in item.items() if key in FACT_FIELDS}) for item in batch.items]


def _compose(ctx: NotificationsContext, branding: Branding, batch: MailBatch) -> ComposedMail:
    facts = _facts(batch)
    composer = ctx.composer
    name = next((item.get("name") for item in batch.items if item.get("name")), None)
    if batch.kind == "upload_receipt":
        return composer.upload_receipt(branding, batch.recipient, batch.language, facts, name=name)
    if batch.kind == "request_receipt":
        return composer.request_receipt(branding, batch.recipient, batch.language, facts[0], name=name)
    if batch.kind == "decline_notice":
        return composer.decline_notice(branding, batch.recipient, batch.language, facts[0], name=name)
    unsubscribe_url = ctx.unsubscribe_links.url_for(batch.tenant_id, batch.recipient)
    if batch.kind == "owner_digest":
        return composer.owner_digest(branding, batch.recipient, batch.language, facts, until=batch.due_at,
                                     unsubscribe_url=unsubscribe_url)
    return composer.owner_alert(branding, batch.recipient, batch.language, facts, unsubscribe_url=unsubscribe_url)


async def send_due_mail(ctx: NotificationsContext) -> int:
    """Send the mails due now, up to ``SEND_BATCH_SIZE``; returns how many were handled. Each is claimed just
    before it is sent, so a claim's lease covers one send however slow the mail server is with the others."""
    handled = 0
    while handled < ctx.settings.send_batch_size:
        async with database_errors():
            claimed = await ctx.repository.claim_due_mail(ctx.store.pool, now=ctx.clock(), limit=1,
                                                          lease_seconds=ctx.settings.send_lease_seconds)
        if not claimed:
            break
        await _send(ctx, claimed[0])
        handled += 1
    return handled


async def _send(ctx: NotificationsContext, mail: DueMail) -> None:
    try:
        await ctx.email.send_raw(mail.message, sender=ctx.composer.sender_address, recipients=[mail.recipient])
    except PermanentDeliveryError as error:
        await _record_outcome(ctx, mail, failure=str(error), bounced=True)
    except Exception as error:  # whatever stopped this send (network, server) is worth a retry
        reason = f"{type(error).__name__}: {error}"[:300]
        if mail.attempts >= ctx.settings.send_max_attempts:
            await _record_outcome(ctx, mail, failure=reason)
        else:
            delay = min(timedelta(seconds=ctx.settings.send_retry_seconds * 2 ** (mail.attempts - 1)),
                        MAX_RETRY_DELAY)
            await ctx.repository.retry_mail_later(ctx.store.pool, mail.notification_id, ctx.clock() + delay, reason)
            log.warning("mail failed; will retry", notification_id=mail.notification_id, attempts=mail.attempts,
                        retry_in=delay.total_seconds(), error=reason)
    else:
        await _record_outcome(ctx, mail)


async def _record_outcome(ctx: NotificationsContext, mail: DueMail, *, failure: str | None = None,
                          bounced: bool = False) -> None:
    """The outcome as an event and the row's erasure, in one transaction: a crash before it sends the mail again
    (the same Message-ID), never loses it."""

    async def erase(connection: asyncpg.Connection, _: object) -> None:
        await ctx.repository.erase_mail(connection, mail.notification_id)

    await ctx.notifications.run(notification_stream(mail.notification_id), lambda: RecordOutcome(
        notification_id=mail.notification_id, tenant_id=mail.tenant_id, kind=mail.kind,  # type: ignore[arg-type]
        recipient=mail.recipient, message_id=mail.message_id, attempts=mail.attempts, now=ctx.clock(),
        failure=failure, bounced=bounced), Cause(mail.notification_id), also=erase)
    if failure is None:
        log.info("mail sent", notification_id=mail.notification_id, kind=mail.kind, attempts=mail.attempts)
    else:
        log.warning("mail given up", notification_id=mail.notification_id, kind=mail.kind, bounced=bounced,
                    reason=failure)


async def forget_old_records(ctx: NotificationsContext, *, batch: int = 200) -> int:
    """Personal data past its retention: the records of mails sent (each a stream of its own, erased with its outbox
    message) and the recipients of links long expired. Returns how many went."""
    cutoff = ctx.clock() - timedelta(days=ctx.settings.record_retention_days)
    async with database_errors():
        forgotten = await ctx.repository.forget_links_expired_before(ctx.store.pool, cutoff)
        forgotten += await ctx.projections.forget_all(
            lambda limit: ctx.repository.notifications_recorded_before(ctx.store.pool, cutoff, limit), batch=batch)
    if forgotten:
        log.info("old records forgotten", count=forgotten)
    return forgotten


async def work_through_due(ctx: NotificationsContext) -> None:
    """One round of the worker: reminders, then batches into mails, then mails out."""
    await send_due_reminders(ctx)
    await compose_due_batches(ctx)
    await send_due_mail(ctx)



# ---- webhooks -----------------------------------------------------------------------------------------------


def _secret_context(endpoint_id: str) -> str:
    return f"webhook-secret:{endpoint_id}"


async def create_endpoint(ctx: NotificationsContext, tenant_id: str, *, url: str, event_types: tuple[str, ...],
                          description: str | None, correlation_id: str) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which is returned this once (and kept only encrypted)."""
    hooks = ctx.webhooks
    if hooks.cipher is None:
        raise DependencyUnavailable("webhooks are not configured here (NOTIFICATIONS_WEBHOOK_DATA_KEY)")
    types = check_event_types(event_types, {name for name, cls in registered_events().items()
                                            if cls.service in WATCHED_SERVICES})
    await check_endpoint_url(url, allow_private=ctx.settings.webhook_allow_private_addresses)
    endpoint_id, secret, now = f"whk_{uuid.uuid4().hex}", new_secret(), ctx.clock()

    async def keep_secret(connection: asyncpg.Connection, _: object) -> None:
        await hooks.repository.add_secret(connection, endpoint_id, hooks.cipher.encrypt(  # type: ignore[union-attr]
            secret.encode(), associated_data=_secret_context(endpoint_id)), now=now)

    outcome = await hooks.endpoints.run(endpoint_stream(endpoint_id), CreateEndpoint(
        endpoint_id=endpoint_id, tenant_id=tenant_id, url=url, event_types=types, description=description, now=now),
        Cause(correlation_id), also=keep_secret)
    log.info("webhook endpoint created", tenant_id=tenant_id, endpoint_id=endpoint_id)
    return outcome.state, secret  # type: ignore[return-value]


async def rotate_secret(ctx: NotificationsContext, tenant_id: str, endpoint_id: str, *,
                        correlation_id: str) -> str:
    """A new signing secret, returned this once; the previous one keeps signing beside it for a day."""
    hooks = ctx.webhooks
    if hooks.cipher is None:
        raise DependencyUnavailable("webhooks are not configured here (NOTIFICATIONS_WEBHOOK_DATA_KEY)")
    _require_id(endpoint_id, _ENDPOINT_ID, "webhook endpoint")
    secret, now = new_secret(), ctx.clock()

    async def keep_secret(connection: asyncpg.Connection, outcome: object) -> None:
        [rotated] = outcome.events  # type: ignore[attr-defined]
        await hooks.repository.add_secret(connection, endpoint_id, hooks.cipher.encrypt(  # type: ignore[union-attr]
            secret.encode(), associated_data=_secret_context(endpoint_id)), now=now,
            previous_valid_until=rotated.payload.previous_valid_until)

    await hooks.endpoints.run(endpoint_stream(endpoint_id), RotateSecret(now), Cause(correlation_id),
                              check=_own_endpoint(tenant_id), also=keep_secret)
    log.info("webhook secret rotated", tenant_id=tenant_id, endpoint_id=endpoint_id)
    return secret


async def delete_endpoint(ctx: NotificationsContext, tenant_id: str, endpoint_id: str, *,
                          correlation_id: str) -> None:
    """No more events to it; its secrets and waiting deliveries go with it."""
    _require_id(endpoint_id, _ENDPOINT_ID, "webhook endpoint")

    async def erase(connection: asyncpg.Connection, _: object) -> None:
        await ctx.webhooks.repository.erase_endpoint_records(connection, endpoint_id)

    await ctx.webhooks.endpoints.run(endpoint_stream(endpoint_id), DeleteEndpoint(ctx.clock()),
                                     Cause(correlation_id), check=_own_endpoint(tenant_id), also=erase)


_ENDPOINT_ID = re.compile(r"whk_[0-9a-f]{32}")
_DELIVERY_ID = re.compile(r"dlv_[0-9a-f]{32}")


def _require_id(value: str, shape: re.Pattern[str], what: str) -> None:
    """Ids are ours and have one shape: anything else (a NUL byte, a path) is unknown without asking PostgreSQL."""
    if not shape.fullmatch(value):
        raise NotFound(f"no such {what}")


def _own_endpoint(tenant_id: str) -> Callable[[WebhookEndpoint | None], None]:
    def check(endpoint: WebhookEndpoint | None) -> None:
        if endpoint is None or endpoint.tenant_id != tenant_id or endpoint.deleted:
            raise NotFound("no such webhook endpoint")
    return check


async def endpoints(ctx: NotificationsContext, tenant_id: str, *, limit: int,
                    after: tuple[datetime, str] | None = None) -> list[EndpointRow]:
    async with database_errors():
        return await ctx.webhooks.repository.endpoints_page(ctx.store.pool, tenant_id, limit=limit, after=after)


async def endpoint_deliveries(ctx: NotificationsContext, tenant_id: str, endpoint_id: str, *, status: str | None,
                              limit: int, after: int = 0) -> list[DeliveryRow]:
    await _endpoint_of(ctx, tenant_id, endpoint_id)
    async with database_errors():
        return await ctx.webhooks.repository.deliveries(ctx.store.pool, endpoint_id, status=status, limit=limit,
                                                        after=after)


async def redeliver(ctx: NotificationsContext, tenant_id: str, endpoint_id: str, delivery_id: str | None) -> int:
    """Failed deliveries (one, or all of the endpoint's) tried again from now; returns how many."""
    await _endpoint_of(ctx, tenant_id, endpoint_id)
    if delivery_id is not None:
        _require_id(delivery_id, _DELIVERY_ID, "failed delivery")
    async with ctx.store.transaction() as connection:
        count = await ctx.webhooks.repository.redeliver(connection, endpoint_id, delivery_id, ctx.clock())
    if delivery_id is not None and count == 0:
        raise NotFound("no such failed delivery")
    log.info("webhooks redelivered", tenant_id=tenant_id, endpoint_id=endpoint_id, count=count)
    return count


async def _endpoint_of(ctx: NotificationsContext, tenant_id: str, endpoint_id: str) -> EndpointRow:
    _require_id(endpoint_id, _ENDPOINT_ID, "webhook endpoint")
    async with database_errors():
        endpoint = await ctx.webhooks.repository.endpoint(ctx.store.pool, endpoint_id)
    if endpoint is None or endpoint.tenant_id != tenant_id:
        raise NotFound("no such webhook endpoint")
    return endpoint


async def _queue_webhooks(ctx: NotificationsContext, connection: asyncpg.Connection, event: CloudEvent,
                          now: datetime) -> None:
    """The event for each of its tenant's endpoints that wants its type, in the consumer's transaction: the
    consumer never waits for an endpoint, however slow."""
    body = event.model_dump_json(exclude_none=True).encode()
    for endpoint in await ctx.webhooks.repository.endpoints(connection, event.tenantid):
        if not endpoint.event_types or event.type in endpoint.event_types:
            await ctx.webhooks.repository.queue_webhook(
                connection, delivery_id=f"dlv_{uuid.uuid4().hex}", endpoint_id=endpoint.endpoint_id,
                tenant_id=event.tenantid, subject=event.subject, event_id=event.id, event_type=event.type,
                body=body, now=now)


async def send_due_webhooks(ctx: NotificationsContext) -> int:
    """One round: every endpoint with due events, ``WEBHOOK_ENDPOINT_CONCURRENCY`` at a time, each sent its events
    in order until none is due or one is refused; returns how many were delivered."""
    hooks = ctx.webhooks
    async with database_errors():
        due = await hooks.repository.endpoints_with_due_webhooks(ctx.store.pool, ctx.clock(), ROUND_LIMIT)
    slots = asyncio.Semaphore(ctx.settings.webhook_endpoint_concurrency)

    async def one_endpoint(endpoint_id: str) -> int:
        async with slots:
            return await _send_to_endpoint(ctx, endpoint_id)

    return sum(await asyncio.gather(*(one_endpoint(endpoint_id) for endpoint_id in due)))


async def _send_to_endpoint(ctx: NotificationsContext, endpoint_id: str) -> int:
    hooks, delivered = ctx.webhooks, 0
    endpoint = await hooks.repository.endpoint(ctx.store.pool, endpoint_id)
    if endpoint is None:
        return 0
    lease = ctx.settings.webhook_timeout_seconds * 2 + 30
    # The secrets in force, read once for the round rather than once per event.
    secrets = [hooks.cipher.decrypt(secret, associated_data=_secret_context(endpoint_id)).decode()
               for secret in await hooks.repository.secrets(ctx.store.pool, endpoint_id, ctx.clock())
               ] if hooks.cipher else []
    for _ in range(ROUND_LIMIT):
        webhook = await hooks.repository.claim_next_webhook(ctx.store.pool, endpoint_id, now=ctx.clock(),
                                                             lease_seconds=lease)
        if webhook is None:
            break
        if secrets:
            result = await hooks.sender.send(endpoint.url, webhook.event_id, webhook.body, secrets)
        else:  # never an unsigned request: a receiver could not tell it from a forgery
            result = SendResult(False, "no signing secret here (NOTIFICATIONS_WEBHOOK_DATA_KEY)")
        if result.ok:
            await _record_webhook(ctx, webhook, failure=None)
            delivered += 1
            continue
        await _webhook_refused(ctx, webhook, result.detail)
        break  # the endpoint is down or refusing: its other events wait for the next round
    return delivered


async def _webhook_refused(ctx: NotificationsContext, webhook: DueWebhook, reason: str) -> None:
    """Retry on the schedule, or after a day of retries give up, visibly."""
    schedule, now = ctx.settings.webhook_retry_seconds, ctx.clock()
    wait = timedelta(seconds=schedule[min(webhook.attempts, len(schedule)) - 1])
    if now + wait - webhook.first_attempt_at > timedelta(seconds=ctx.settings.webhook_retry_for_seconds):
        await _record_webhook(ctx, webhook, failure=reason)
        return
    await ctx.webhooks.repository.retry_webhook_at(ctx.store.pool, webhook.delivery_id, now + wait, reason)
    log.info("webhook refused; will retry", endpoint_id=webhook.endpoint_id, delivery_id=webhook.delivery_id,
             attempts=webhook.attempts, retry_in=wait.total_seconds(), reason=reason)


async def _record_webhook(ctx: NotificationsContext, webhook: DueWebhook, *, failure: str | None) -> None:
    """The outcome as an event, with the row erased (delivered) or kept as failed, in one transaction."""
    repository = ctx.webhooks.repository

    async def settle(connection: asyncpg.Connection, _: object) -> None:
        if failure is None:
            await repository.erase_webhook(connection, webhook.delivery_id)
        else:
            await repository.mark_webhook_failed(connection, webhook.delivery_id, failure)

    await ctx.webhooks.deliveries.run(webhook_delivery_stream(webhook.delivery_id), lambda: RecordWebhookOutcome(
        delivery_id=webhook.delivery_id, endpoint_id=webhook.endpoint_id, tenant_id=webhook.tenant_id,
        event_id=webhook.event_id, event_type=webhook.event_type, subject=webhook.subject,
        attempts=webhook.attempts, now=ctx.clock(), failure=failure), Cause(webhook.event_id), also=settle)
    if failure is not None:
        log.warning("webhook failed", endpoint_id=webhook.endpoint_id, delivery_id=webhook.delivery_id,
                    attempts=webhook.attempts, reason=failure)
