"""The built-in test provider: a hosted card page served by the payments service itself, so a newcomer pays end
to end on ``make run`` with no account anywhere.

Its page (``/guest/test-provider/<payment>``, reached through the gateway like every guest page, so its URL holds
no token) offers approve, decline, and a pending step like 3-D Secure before approving. What the guest chooses is
reported back as a provider's webhook is: a JSON event signed like Stripe's (``t=<unix time>,v1=<HMAC-SHA256 of
"t.payload">``), verified by the same code path a real webhook takes, refused when forged or older than the
tolerance. Test card numbers are not asked for: the buttons say what happens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict

from loginless.payments.ports import Checkout, CheckoutPage, ProviderReport, Refund, WebhookEvent, WebhookRefused

NAME = "test"
TOLERANCE_SECONDS = 300


class TestProvider:
    name = NAME

    def __init__(self, secret: bytes, *, now: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._now = now

    async def checkout(self, payment: Checkout) -> CheckoutPage:
        # The page is the service's own, under the guest's prefix: the return URL's folder.
        return CheckoutPage(f"{payment.return_url.rstrip('/')}/test-provider/{payment.payment_id}")

    async def receive(self, payload: bytes, signature: str | None) -> WebhookEvent:
        report = self.verify(payload, signature)  # the report is the webhook's whole body: nothing to fetch
        return WebhookEvent(report.event_id, (report,))

    async def refund(self, refund: Refund) -> None:
        return None  # no money moved: the refund recorded is all there is

    async def status(self, payment_id: str, invoice_id: str, reference: str | None) -> tuple[ProviderReport, ...]:
        return ()  # it keeps no state of its own: the guest's choice on its page is the only report

    async def cancel(self, payment_id: str, invoice_id: str, reference: str | None) -> tuple[ProviderReport, ...]:
        # Its page has nothing to close; leaving it without choosing is a payment that did not happen.
        return (ProviderReport(event_id=f"cancel:{payment_id}", payment_id=payment_id, invoice_id=invoice_id,
                               outcome="failed", provider_payment_id="", amount_minor=0, currency="",
                               reason="canceled by the guest"),)

    def report(self, report: ProviderReport) -> tuple[bytes, str]:
        """The webhook this provider sends about ``report``: its body and its ``Test-Signature`` header."""
        payload = json.dumps(asdict(report), sort_keys=True).encode()
        return payload, self.signature(payload, int(self._now()))

    def signature(self, payload: bytes, timestamp: int) -> str:
        mac = hmac.new(self._secret, f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={timestamp},v1={mac}"

    def verify(self, payload: bytes, signature: str | None) -> ProviderReport:
        parts = dict(part.split("=", 1) for part in (signature or "").split(",") if "=" in part)
        try:
            timestamp = int(parts["t"])
        except (KeyError, ValueError) as error:
            raise WebhookRefused("no signature") from error
        expected = self.signature(payload, timestamp).split("v1=", 1)[1]
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            raise WebhookRefused("the signature does not match")
        if abs(self._now() - timestamp) > TOLERANCE_SECONDS:
            raise WebhookRefused("the webhook is too old (a replay?)")
        try:
            return ProviderReport(**json.loads(payload))
        except (TypeError, ValueError) as error:
            raise WebhookRefused("the webhook's body is not a report") from error


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(12)}"
