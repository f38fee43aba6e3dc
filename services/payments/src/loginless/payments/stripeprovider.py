"""Card payments through Stripe Checkout, behind the ``PaymentProvider`` port.

The guest is handed to a Checkout Session: Stripe's hosted page, so no Stripe script runs on our pages. The
session is created for the amount and currency the invoice's decider fixed, with the attempt's payment id as
idempotency key (``<payment id>/checkout``): the same attempt submitted twice gets the same page, never a second
charge. Its success and cancel URLs are the guest's token-free page. Our ids ride along as metadata on the session
and on the PaymentIntent Stripe makes for it, so every later event finds its payment. A guest who comes back by the
cancel URL has the session expired at once (``cancel``), so its amount is open again without waiting out the
session's 30 minutes.

Webhooks are verified with the endpoint's signing secret (``stripe.Webhook.construct_event``: HMAC-SHA256 of
``t.payload``, five minutes' tolerance). Their body is never trusted for state: Stripe neither orders nor
de-duplicates deliveries, so each event only says *which* object changed, and the adapter fetches that object
again and reports what is true now. A late ``payment_failed`` after a success, or a ``succeeded`` before the
``processing``, both report the PaymentIntent's current state, and the decider makes the rest idempotent. The
sweep asks the same question of a payment whose webhook never came (``status``).

What is reported, from the fetched state:

- a PaymentIntent ``succeeded``: succeeded, for ``amount_received`` in its currency (the decider flags any other
  amount or currency than the payment was started for); ``canceled``: failed;
- a Checkout Session ``expired`` with no successful PaymentIntent: failed (the guest never paid; its amount is
  open again); one completed with a payment method that settles later (a bank debit) whose payment then failed:
  failed;
- a declined card is *not* a failure while its session is open: the guest may try another card on the same page;
- refunds of the PaymentIntent that succeeded: one refund each, recorded once by its id (ours, for one staff asked
  for through the API: ``refund`` sends it with our refund id as idempotency key and metadata; Stripe's otherwise);
- a dispute whose funds were withdrawn: the payment reversed (a chargeback).

Amounts cross to Stripe in its units, which are ISO 4217's minor units but for its special cases
(``stripe_amount``): ISK is whole krónur in ISO 4217 and two-decimal in Stripe's API (1 króna is 100), and amounts in
the three-decimal currencies Stripe charges must end in 0 for its payment partners. An amount Stripe cannot take
exactly is refused before the guest is handed over, never rounded: the decider fixed it.

Stripe's API is reached through ``StripeApi``, a handful of calls on the official SDK's async client, so tests can
put a stateful fake in its place (stripe-mock checks the calls' shapes but keeps no state).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import stripe
import structlog

from loginless.payments import money
from loginless.payments.ports import (
    CANCELED_QUERY,
    Checkout,
    CheckoutPage,
    ProviderFailed,
    ProviderReport,
    ProviderUnavailable,
    Refund,
    WebhookEvent,
    WebhookRefused,
)

log = structlog.get_logger(__name__)

NAME = "stripe"
TOLERANCE_SECONDS = 300
# Stripe wants a session's expiry 30 minutes to 24 hours after its creation; counted from when the payment was
# started, this margin keeps a creation a little later than the start within the bounds.
EXPIRY_MARGIN_SECONDS = 300
# A dispute in these states withdrew no money (an inquiry) or gave it back (won): nothing to reverse.
DISPUTES_WITHOUT_LOSS = {"won", "warning_needs_response", "warning_under_review", "warning_closed"}

# Stripe's special cases against ISO 4217 minor units: currencies its API writes with two decimals although they
# have none (the factor from ISO minor units to Stripe's), and three-decimal currencies whose last digit must be 0.
STRIPE_UNITS_PER_MINOR_UNIT = {"ISK": 100}
STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

StripeObject = Mapping[str, Any]


def stripe_amount(amount_minor: int, currency: str) -> int:
    """``amount_minor`` (ISO 4217 minor units of ``currency``) as Stripe's API states it, or ``ProviderFailed``
    when Stripe cannot charge that amount exactly."""
    if currency in money.THREE_DECIMAL and currency not in STRIPE_THREE_DECIMAL:
        raise ProviderFailed(f"Stripe does not charge cards in {currency}", stripe_code="currency_not_charged")
    if currency in STRIPE_THREE_DECIMAL and amount_minor % 10:
        raise ProviderFailed(f"Stripe takes {currency} amounts in steps of 0.010 only; {amount_minor} thousandths "
                             "cannot be charged by card", stripe_code="amount_not_chargeable")
    return amount_minor * STRIPE_UNITS_PER_MINOR_UNIT.get(currency, 1)


def amount_from_stripe(amount: int, currency: str) -> int:
    """An amount Stripe reports, back in ISO 4217 minor units (a fraction Stripe should never report is kept
    visible as a mismatch: it cannot equal the whole amount the payment was started for)."""
    factor = STRIPE_UNITS_PER_MINOR_UNIT.get(currency, 1)
    return amount // factor if amount % factor == 0 else -amount


class StripeApi(Protocol):
    """The calls of Stripe's API the adapter makes; each answers a plain mapping."""

    async def create_checkout_session(self, params: dict[str, Any], *, idempotency_key: str) -> StripeObject: ...

    async def checkout_session(self, session_id: str) -> StripeObject:
        """The session, with its PaymentIntent expanded (None until the guest confirmed a payment)."""
        ...

    async def payment_intent(self, intent_id: str) -> StripeObject: ...

    async def refunds(self, intent_id: str) -> list[StripeObject]: ...

    async def create_refund(self, params: dict[str, Any], *, idempotency_key: str) -> StripeObject: ...

    async def dispute(self, dispute_id: str) -> StripeObject: ...

    async def expire_checkout_session(self, session_id: str) -> StripeObject:
        """Close an open session's page; Stripe refuses (``ProviderFailed``) once it is complete or expired."""
        ...


class StripeSdkApi:
    """``StripeApi`` on the official SDK's ``StripeClient`` (its ``*_async`` methods, over httpx). The SDK retries
    a failed connection with the same idempotency key; reads carry none (Stripe ignores them on GET)."""

    def __init__(self, secret_key: str, *, api_base: str | None = None,
                 http_client: stripe.HTTPClient | None = None) -> None:
        self._client = stripe.StripeClient(
            secret_key, base_addresses={"api": api_base} if api_base else None,
            http_client=http_client or stripe.HTTPXClient(timeout=20), max_network_retries=2)

    async def create_checkout_session(self, params: dict[str, Any], *, idempotency_key: str) -> StripeObject:
        return await _called(self._client.v1.checkout.sessions.create_async(
            params, {"idempotency_key": idempotency_key}))  # type: ignore[arg-type]

    async def checkout_session(self, session_id: str) -> StripeObject:
        return await _called(self._client.v1.checkout.sessions.retrieve_async(
            session_id, {"expand": ["payment_intent"]}))

    async def payment_intent(self, intent_id: str) -> StripeObject:
        return await _called(self._client.v1.payment_intents.retrieve_async(intent_id))

    async def refunds(self, intent_id: str) -> list[StripeObject]:
        listed = await _called(self._client.v1.refunds.list_async({"payment_intent": intent_id, "limit": 100}))
        return list(listed["data"])

    async def create_refund(self, params: dict[str, Any], *, idempotency_key: str) -> StripeObject:
        return await _called(self._client.v1.refunds.create_async(
            params, {"idempotency_key": idempotency_key}))  # type: ignore[arg-type]

    async def dispute(self, dispute_id: str) -> StripeObject:
        return await _called(self._client.v1.disputes.retrieve_async(dispute_id))

    async def expire_checkout_session(self, session_id: str) -> StripeObject:
        return await _called(self._client.v1.checkout.sessions.expire_async(session_id))


async def _called(call: Any) -> dict[str, Any]:  # noqa: ANN401 -- any of the SDK's awaitables
    try:
        answer = await call
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
        raise ProviderUnavailable(f"Stripe: {error.user_message or type(error).__name__}") from error
    except stripe.StripeError as error:
        raise ProviderFailed(f"Stripe: {error.user_message or type(error).__name__}",
                             stripe_code=error.code) from error
    return answer.to_dict()


class StripeProvider:
    name = NAME

    def __init__(self, api: StripeApi, *, webhook_secret: str, public_url: str, checkout_minutes: int = 30,
                 now: Callable[[], float] = time.time) -> None:
        self._api = api
        self._webhook_secret = webhook_secret
        self._public_url = public_url.rstrip("/")
        self._checkout_seconds = checkout_minutes * 60
        self._now = now

    # ---- handing the guest over -------------------------------------------------------------------------

    async def checkout(self, payment: Checkout) -> CheckoutPage:
        ours = {"payment_id": payment.payment_id, "invoice_id": payment.invoice_id, "tenant_id": payment.tenant_id}
        back = f"{self._public_url}{payment.return_url.rstrip('/')}/?payment={payment.payment_id}"
        # Counted from the start, so a resubmitted attempt sends the very same parameters with the same key.
        started = payment.started_at.timestamp() if payment.started_at else self._now()
        params: dict[str, Any] = {
            "mode": "payment",
            "client_reference_id": payment.payment_id,
            "line_items": [{"quantity": 1, "price_data": {
                "currency": payment.currency.lower(),
                "unit_amount": stripe_amount(payment.amount_minor, payment.currency),
                "product_data": {"name": payment.description}}}],
            "payment_intent_data": {"description": payment.description, "metadata": ours},
            "metadata": ours,
            "success_url": back,
            "cancel_url": f"{back}&{CANCELED_QUERY}=1",
            "expires_at": int(started) + self._checkout_seconds + EXPIRY_MARGIN_SECONDS,
        }
        if payment.payer_email:
            params["customer_email"] = payment.payer_email
        session = await self._api.create_checkout_session(params, idempotency_key=f"{payment.payment_id}/checkout")
        return CheckoutPage(url=session["url"], reference=session["id"])

    # ---- refunds asked for by staff -------------------------------------------------------------------------

    async def refund(self, refund: Refund) -> None:
        ours = {"refund_id": refund.refund_id, "payment_id": refund.payment_id, "invoice_id": refund.invoice_id,
                "tenant_id": refund.tenant_id, "reason": refund.reason[:500]}
        amount = stripe_amount(refund.amount_minor, refund.currency)
        await self._api.create_refund({"payment_intent": refund.provider_payment_id, "amount": amount,
                                       "metadata": ours}, idempotency_key=f"{refund.refund_id}/refund")

    # ---- webhooks -----------------------------------------------------------------------------------------

    def verify(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The verified event, or ``WebhookRefused`` (no or a wrong signature, too old, not JSON)."""
        if not signature:
            raise WebhookRefused("no Stripe-Signature header")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self._webhook_secret,
                                                   tolerance=TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError as error:
            raise WebhookRefused(f"the signature does not verify: {error.user_message}") from error
        except ValueError as error:
            raise WebhookRefused("the webhook's body is not a Stripe event") from error
        return event.to_dict()

    async def receive(self, payload: bytes, signature: str | None) -> WebhookEvent:
        event = self.verify(payload, signature)
        try:
            event_id, kind, changed = event["id"], event["type"], event["data"]["object"]
        except (KeyError, TypeError) as error:
            raise WebhookRefused("the webhook's body is not a Stripe event") from error
        reports = await self._reports(event_id, kind, changed)
        log.info("stripe webhook", event_id=event_id, type=kind, reports=len(reports))
        return WebhookEvent(event_id, reports)

    async def _reports(self, event_id: str, kind: str, changed: StripeObject) -> tuple[ProviderReport, ...]:
        if kind.startswith("checkout.session."):
            return self._of_session(event_id, await self._api.checkout_session(changed["id"]))
        if kind.startswith("payment_intent."):
            return self._of_intent(event_id, await self._api.payment_intent(changed["id"]))
        if kind in ("charge.refunded", "charge.refund.updated", "refund.created", "refund.updated"):
            if not (intent_id := changed.get("payment_intent")):
                return ()
            intent = await self._api.payment_intent(intent_id)
            return self._of_refunds(event_id, intent, await self._api.refunds(intent_id)) if _ours(intent) else ()
        if kind.startswith("charge.dispute."):
            dispute = await self._api.dispute(changed["id"])
            if not (intent_id := dispute.get("payment_intent")):
                return ()
            return self._of_dispute(event_id, dispute, await self._api.payment_intent(intent_id))
        return ()  # an event type we do not listen to

    # ---- the sweep ----------------------------------------------------------------------------------------

    async def status(self, payment_id: str, invoice_id: str, reference: str | None) -> tuple[ProviderReport, ...]:
        if reference is None:  # no session was recorded: nobody holds a page to pay it on
            return (ProviderReport(event_id=f"sweep:{payment_id}", payment_id=payment_id, invoice_id=invoice_id,
                                   outcome="failed", provider_payment_id="", amount_minor=0, currency="",
                                   reason="never handed to Stripe"),)
        return self._of_session(f"sweep:{payment_id}", await self._api.checkout_session(reference))

    async def cancel(self, payment_id: str, invoice_id: str, reference: str | None) -> tuple[ProviderReport, ...]:
        if reference is not None:
            try:
                await self._api.expire_checkout_session(reference)
            except ProviderFailed as error:  # complete or expired already: what it says now is the answer
                log.info("checkout session not expired", payment_id=payment_id, error=str(error))
        return await self.status(payment_id, invoice_id, reference)

    # ---- reports from Stripe's objects ------------------------------------------------------------------

    def _of_session(self, event_id: str, session: StripeObject) -> tuple[ProviderReport, ...]:
        ours = _ours(session)
        intent = session.get("payment_intent")
        if isinstance(intent, Mapping) and (reports := self._of_intent(event_id, intent)):
            return reports
        # Over: the page expired unpaid, or it was completed with a payment method that settles later and then
        # failed (a bank debit returned). Open: the guest may still pay, or try another card after a decline.
        unpaid_after_completion = session.get("status") == "complete" and isinstance(intent, Mapping) \
            and intent.get("status") == "requires_payment_method"
        if ours is None or not (session.get("status") == "expired" or unpaid_after_completion):
            return ()
        payment_id, invoice_id = ours
        currency = str(session.get("currency") or "").upper()
        return (ProviderReport(event_id=event_id, payment_id=payment_id, invoice_id=invoice_id, outcome="failed",
                               provider_payment_id=intent["id"] if isinstance(intent, Mapping) else session["id"],
                               amount_minor=amount_from_stripe(session.get("amount_total") or 0, currency),
                               currency=currency,
                               reason="expired" if session.get("status") == "expired" else "payment_failed"),)

    def _of_intent(self, event_id: str, intent: StripeObject) -> tuple[ProviderReport, ...]:
        if (ours := _ours(intent)) is None:
            return ()
        payment_id, invoice_id = ours
        currency = str(intent["currency"]).upper()
        about = {"event_id": event_id, "payment_id": payment_id, "invoice_id": invoice_id,
                 "provider_payment_id": intent["id"], "currency": currency}
        if intent["status"] == "succeeded":
            return (ProviderReport(**about, outcome="succeeded",
                                   amount_minor=amount_from_stripe(intent["amount_received"], currency)),)
        if intent["status"] == "canceled":
            return (ProviderReport(**about, outcome="failed",
                                   amount_minor=amount_from_stripe(intent["amount"], currency),
                                   reason=intent.get("cancellation_reason") or "canceled"),)
        return ()  # processing, or waiting for the guest (a declined card may be retried on the same page)

    def _of_refunds(self, event_id: str, intent: StripeObject,
                    refunds: list[StripeObject]) -> tuple[ProviderReport, ...]:
        payment_id, invoice_id = _ours(intent) or ("", "")
        return tuple(ProviderReport(event_id=event_id, payment_id=payment_id, invoice_id=invoice_id,
                                    outcome="refunded", provider_payment_id=intent["id"],
                                    amount_minor=amount_from_stripe(refund["amount"], str(refund["currency"]).upper()),
                                    currency=str(refund["currency"]).upper(),
                                    refund_id=(refund.get("metadata") or {}).get("refund_id") or refund["id"],
                                    reason=refund.get("reason") or "refunded at Stripe")
                     for refund in refunds if refund.get("status") == "succeeded")

    def _of_dispute(self, event_id: str, dispute: StripeObject,
                    intent: StripeObject) -> tuple[ProviderReport, ...]:
        if (ours := _ours(intent)) is None or dispute.get("status") in DISPUTES_WITHOUT_LOSS:
            return ()
        payment_id, invoice_id = ours
        return (ProviderReport(event_id=event_id, payment_id=payment_id, invoice_id=invoice_id, outcome="reversed",
                               provider_payment_id=intent["id"],
                               amount_minor=amount_from_stripe(dispute["amount"], str(dispute["currency"]).upper()),
                               currency=str(dispute["currency"]).upper(), reason="chargeback"),)


def _ours(stripe_object: StripeObject) -> tuple[str, str] | None:
    """Our payment and invoice ids, from the metadata the checkout put there (None: not one of our payments)."""
    metadata = stripe_object.get("metadata") or {}
    payment_id, invoice_id = metadata.get("payment_id"), metadata.get("invoice_id")
    return (payment_id, invoice_id) if payment_id and invoice_id else None
