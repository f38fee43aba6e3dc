"""The worker's delivery loop: sends the e-mails and SMS that issuing links, sending them again and asking for
codes queued.

A delivery is a link's first sending, a link sent again (a reminder: the same URL, from the token links keeps
encrypted while the link can open) or a one-time code. Each pending delivery holds its token or code encrypted.
The loop claims due rows (``FOR UPDATE SKIP LOCKED``, so any number of workers share the work), sends outside any
transaction, and then either erases the row and records ``LinkDelivered`` in one transaction, or schedules a
retry with exponential backoff, or -- after the last attempt, or at once when retrying cannot help -- erases the
row and records ``LinkDeliveryFailed``. A worker that dies mid-send leaves its rows claimed only until their lease
ends; then they are sent again (at least once, never lost).
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import structlog
from prometheus_client import Counter

from loginless.links.domain import Link
from loginless.links.handlers import LinksContext, delivery_secret_context, record_delivery
from loginless.links.messages import MessageComposer
from loginless.links.repository import DueDelivery
from loginless.links.senders import SmsSender
from loginless.links.tenants import Tenant
from loginless.shared.errors import DependencyUnavailable
from loginless.shared.eventstore import DATABASE_UNAVAILABLE
from loginless.shared.mail import EmailSender, PermanentDeliveryError

log = structlog.get_logger(__name__)

MAX_RETRY_DELAY_SECONDS = 600.0
# sent; retried (the server or provider could not take it now); refused (it never will: a bad address or number);
# given_up (attempts exhausted, or the link ended or the message expired before it could go). A steady rate of
# retried with no sent is a mail server or SMS provider down, or credentials it refuses.
DELIVERIES = Counter("loginless_links_deliveries_total", "Sends of links' e-mails and SMS, by channel and outcome",
                     ["channel", "outcome"])
MAX_LOOP_BACKOFF_SECONDS = 10.0


class DeliveryWorker:
    def __init__(self, ctx: LinksContext, *, composer: MessageComposer, email: EmailSender, sms: SmsSender,
                 max_attempts: int, retry_seconds: float, poll_seconds: float, send_timeout_seconds: float,
                 batch_size: int = 20) -> None:
        self.ctx = ctx
        self.composer = composer
        self.email = email
        self.sms = sms
        self.max_attempts = max_attempts
        self.retry_seconds = retry_seconds
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        # Long enough for a send to finish or time out; a claim outliving its worker is picked up after it.
        self.lease_seconds = 2 * send_timeout_seconds + 30

    async def run(self) -> None:
        """Deliver until cancelled; a lost database or a bug in one round never ends the loop."""
        backoff = self.poll_seconds
        while True:
            try:
                handled = await self.deliver_due()
                backoff = self.poll_seconds
            except (DependencyUnavailable, *DATABASE_UNAVAILABLE) as error:
                log.warning("delivery waits for the database", error=repr(error), retry_in=backoff)
                handled = 0
                backoff = min(backoff * 2, MAX_LOOP_BACKOFF_SECONDS)
            except Exception:
                log.exception("delivery round failed", retry_in=backoff)
                handled = 0
                backoff = min(backoff * 2, MAX_LOOP_BACKOFF_SECONDS)
            if not handled:
                await asyncio.sleep(backoff)

    async def deliver_due(self) -> int:
        """Send what is due now (one batch); return how many deliveries were handled."""
        due = await self.ctx.repository.claim_due_deliveries(self.ctx.store.pool, limit=self.batch_size,
                                                            lease_seconds=self.lease_seconds)
        outcomes = await asyncio.gather(*(self._deliver(delivery) for delivery in due), return_exceptions=True)
        for delivery, outcome in zip(due, outcomes, strict=True):
            if isinstance(outcome, Exception):  # e.g. the database went away mid-way: due again after the lease
                log.error("delivery interrupted", link_id=delivery.link_id, purpose=delivery.purpose,
                          error=repr(outcome))
        return len(due)

    async def _deliver(self, delivery: DueDelivery) -> None:
        ctx = self.ctx
        link = await ctx.repository.link(ctx.store.pool, delivery.link_id)
        tenant = await ctx.tenants.get(link.tenant_id)
        now = ctx.clock()
        if delivery.purpose in ("link", "reminder") and (status := link.status(now)) != "active":
            await self._give_up(delivery, f"the link is {status.replace('_', ' ')}")
            return
        if now >= delivery.send_before:
            await self._give_up(delivery, "expired before it could be sent")
            return
        try:
            secret = ctx.cipher.decrypt(delivery.secret, associated_data=delivery_secret_context(
                delivery.link_id, delivery.purpose)).decode()
        except ValueError:
            await self._give_up(delivery, "cannot decrypt the stored secret (was LINKS_DATA_KEY changed?)")
            return

        try:
            message_id = await self._send(delivery, tenant, link, secret)
        except PermanentDeliveryError as error:
            await self._give_up(delivery, _describe(error, secret), outcome="refused")
        except Exception as error:  # whatever stopped this send (network, server, provider) is worth a retry
            reason = _describe(error, secret)
            if delivery.attempts >= self.max_attempts:
                await self._give_up(delivery, reason)
            else:
                delay = min(self.retry_seconds * 2 ** (delivery.attempts - 1), MAX_RETRY_DELAY_SECONDS)
                await ctx.repository.retry_delivery_later(ctx.store.pool, delivery.id, delay, reason)
                DELIVERIES.labels(delivery.channel, "retried").inc()
                log.warning("delivery failed; will retry", link_id=delivery.link_id, purpose=delivery.purpose,
                            channel=delivery.channel, attempts=delivery.attempts, retry_in=delay, error=reason)
        else:
            await self._succeeded(delivery, message_id)

    async def _send(self, delivery: DueDelivery, tenant: Tenant, link: Link, secret: str) -> str | None:
        """Send it; the SMS provider's id of the message, if it gave one."""
        composer = self.composer
        if delivery.purpose in ("link", "reminder"):
            url, reminder = self.ctx.url_for(secret), delivery.purpose == "reminder"
            if delivery.channel == "email":
                await self.email.send(composer.link_email(tenant, link, url, reminder=reminder))
                return None
            return await self.sms.send(composer.link_sms(tenant, link, url, reminder=reminder))
        if delivery.channel == "email":
            await self.email.send(composer.code_email(tenant, link, secret))
            return None
        return await self.sms.send(composer.code_sms(tenant, link, secret))

    async def _succeeded(self, delivery: DueDelivery, message_id: str | None) -> None:
        log.info("delivered", link_id=delivery.link_id, purpose=delivery.purpose, channel=delivery.channel,
                 attempts=delivery.attempts, provider_message_id=message_id)
        await self._finish(delivery, failure=None, provider_message_id=message_id)
        DELIVERIES.labels(delivery.channel, "sent").inc()

    async def _give_up(self, delivery: DueDelivery, reason: str, *, outcome: str = "given_up") -> None:
        log.warning("delivery given up", link_id=delivery.link_id, purpose=delivery.purpose,
                    channel=delivery.channel, attempts=delivery.attempts, reason=reason)
        await self._finish(delivery, failure=reason)
        DELIVERIES.labels(delivery.channel, outcome).inc()

    async def _finish(self, delivery: DueDelivery, *, failure: str | None,
                      provider_message_id: str | None = None) -> None:
        """Erase the secret; for a link, record the outcome in the same transaction."""

        async def erase(connection: asyncpg.Connection) -> None:
            await self.ctx.repository.erase_delivery(connection, delivery.id)

        # Codes are short-lived and not announced; a link sent again was announced by whoever asked for it (the
        # link's first delivery is the one its events report): erasing is all.
        if delivery.purpose in ("code", "reminder"):
            await self.ctx.repository.erase_delivery(self.ctx.store.pool, delivery.id)
            return
        await record_delivery(self.ctx, delivery.link_id, channel=delivery.channel, attempts=delivery.attempts,
                              failure=failure, correlation_id=str(uuid.uuid4()), also=erase,
                              provider_message_id=provider_message_id)


def _describe(error: BaseException, secret: str) -> str:
    """A short reason for logs and the LinkDeliveryFailed event; a server echoing the message loses the secret."""
    return f"{type(error).__name__}: {error}".replace(secret, "[redacted]")[:300]
