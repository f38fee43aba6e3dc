"""Events of the requests service (topic ``requests.events``).

The module is named ``requests_`` so that nothing here can shadow the well-known ``requests`` library.
"""

from datetime import datetime

from loginless.events.catalog import IntegrationEvent


class ClientRequestSent(IntegrationEvent, service="requests", version=1):
    client_request_id: str
    tenant_id: str
    require_login: bool
    sent_at: datetime


class ClientRequestCompleted(IntegrationEvent, service="requests", version=1):
    """A recipient submitted their answers; ``respondent_email`` gets a receipt when given."""

    client_request_id: str
    tenant_id: str
    completed_at: datetime
    link_id: str | None = None
    title: str | None = None
    respondent_name: str | None = None
    respondent_email: str | None = None
