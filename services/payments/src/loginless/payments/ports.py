"""What the payments service needs from a payment provider, as the handlers and pages call it.

A provider takes the guest to a page of its own to pay (its hosted page: no provider script ever runs on our
pages) and later tells the service what happened by a signed webhook. The built-in test provider
(``testprovider.py``) is one; Stripe (``stripe.py``) is another. The amount and currency are always the service's,
decided before the guest is handed over; a webhook only ever *reports*, and the invoice's decider judges the report.
A provider may also be asked about a payment whose webhook never came (the worker's sweep); its answer takes the
same path as a webhook's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from loginless.shared.errors import DependencyUnavailable, LoginlessError


class WebhookRefused(LoginlessError):
    """A webhook that is not the provider's (no or a wrong signature) or is too old to be trusted (a replay)."""

    status_code = 400
    problem_type = "webhook-refused"
    title = "The webhook could not be verified"


class ProviderFailed(LoginlessError):
    """The provider refused a call: nothing was decided on its behalf."""

    status_code = 502
    problem_type = "payment-provider-failed"
    title = "The payment provider did not answer as expected"


class ProviderUnavailable(DependencyUnavailable):
    """The provider could not be reached (or asked us to slow down): nothing was decided; try again later."""

    problem_type = "payment-provider-unavailable"
    title = "The payment provider is unavailable"


# Added to the guest's return URL by the provider page's cancel link: the guest left without paying.
CANCELED_QUERY = "canceled"


@dataclass(frozen=True)
class Refund:
    """Money of a received payment to give back through the provider that took it."""

    refund_id: str  # ours, and the idempotency key of the provider's refund
    payment_id: str
    invoice_id: str
    tenant_id: str
    provider_payment_id: str
    amount_minor: int
    currency: str
    reason: str


@dataclass(frozen=True)
class Checkout:
    """A payment the guest is about to make, as the provider is told of it."""

    payment_id: str  # ours, and the idempotency key of every call about it
    invoice_id: str
    tenant_id: str
    amount_minor: int
    currency: str
    description: str
    return_url: str  # where the guest comes back to (token-free): the guest's prefix, ``/g/<link id>``
    payer_email: str | None = None
    started_at: datetime | None = None  # when the payment was started: what the page's expiry is counted from


@dataclass(frozen=True)
class CheckoutPage:
    """Where the guest pays, and the provider's id of that page (None when the provider needs none to be asked
    about the payment later)."""

    url: str
    reference: str | None = None


@dataclass(frozen=True)
class ProviderReport:
    """What a verified webhook says about one payment."""

    event_id: str  # the provider's, for deduplication
    payment_id: str
    invoice_id: str
    outcome: Literal["succeeded", "failed", "reversed", "refunded"]
    provider_payment_id: str
    amount_minor: int  # succeeded: what the provider took; refunded: what it gave back
    currency: str
    reason: str | None = None
    refund_id: str | None = None  # refunded: the provider's id of the refund (a refund is recorded once)


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook: the provider's event id (a delivery seen before is answered without effect) and what it
    says, read from the provider's current state where it can be fetched (so a late or out-of-order delivery
    reports what is true now). No report: an event about nothing of ours, or about a payment still under way."""

    event_id: str
    reports: tuple[ProviderReport, ...]


class PaymentProvider(Protocol):
    name: str

    async def checkout(self, payment: Checkout) -> CheckoutPage:
        """The provider's page where the guest pays ``payment`` (no token in its URL)."""
        ...

    async def receive(self, payload: bytes, signature: str | None) -> WebhookEvent:
        """The webhook's reports, or :class:`WebhookRefused` when it is not verified."""
        ...

    async def refund(self, refund: Refund) -> None:
        """Give ``refund`` back through the provider (a call repeated with the same refund id refunds once)."""
        ...

    async def status(self, payment_id: str, invoice_id: str, reference: str | None) -> tuple[ProviderReport, ...]:
        """What the provider says now of a payment handed to it as ``reference`` (nothing while it is under way);
        ``reference`` None: the guest was never handed over (its checkout failed), as far as the service knows."""
        ...

    async def cancel(self, payment_id: str, invoice_id: str, reference: str | None) -> tuple[ProviderReport, ...]:
        """The guest came back from the provider's page without paying: close that page, so its amount is open
        again now rather than when the page expires, and say what is true then (a payment completed meanwhile
        stays completed)."""
        ...
