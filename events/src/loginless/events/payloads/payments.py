"""Events of the payments service (topic ``payments.events``)."""

from datetime import datetime

from loginless.events.catalog import IntegrationEvent


class InvoicePaid(IntegrationEvent, service="payments", version=1):
    """Amounts are integers in the currency's minor unit, decided server-side."""

    invoice_id: str
    tenant_id: str
    amount_minor: int
    currency: str
    paid_at: datetime
    provider: str
    provider_payment_id: str
    link_id: str | None = None
