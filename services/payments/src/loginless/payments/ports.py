"""What the payments service needs from a payment provider, as the handlers and pages call it.

A provider takes the guest to a page of its own to pay (its hosted page: no provider script ever runs on our
pages) and later tells the service what happened by a signed webhook. The built-in test provider
(``testprovider.py``) is one; Stripe is another. The amount and currency are always the service's, decided
before the guest is handed over; a webhook only ever *reports*, and the invoice's decider judges the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from loginless.shared.errors import LoginlessError


class WebhookRefused(LoginlessError):
    """A webhook that is not the provider's (no or a wrong signature) or is too old to be trusted (a replay)."""

    status_code = 400
    problem_type = "webhook-refused"
    title = "The webhook could not be verified"


@dataclass(frozen=True)
class Checkout:
    """A payment the guest is about to make, as the provider is told of it."""

    payment_id: str  # ours, and the idempotency key of every call about it
    invoice_id: str
    tenant_id: str
    amount_minor: int
    currency: str
    description: str
    return_url: str  # where the guest comes back to (token-free)


@dataclass(frozen=True)
class ProviderReport:
    """What a verified webhook says about one payment."""

    event_id: str  # the provider's, for deduplication
    payment_id: str
    invoice_id: str
    outcome: Literal["succeeded", "failed", "reversed"]
    provider_payment_id: str
    amount_minor: int
    currency: str
    reason: str | None = None


class PaymentProvider(Protocol):
    name: str

    async def checkout(self, payment: Checkout) -> str:
        """The URL of the provider's page where the guest pays ``payment`` (no token in it)."""
        ...

    def verify(self, payload: bytes, signature: str | None) -> ProviderReport:
        """The webhook's report, or :class:`WebhookRefused`."""
        ...
