"""Events of the requests service (topic ``requests.events``).

The module is named ``requests_`` so that nothing here can shadow the well-known ``requests`` library.
"""

from datetime import datetime

from loginless.shared.events.catalog import IntegrationEvent


class ClientRequestSent(IntegrationEvent, service="requests", version=1):
    client_request_id: str
    tenant_id: str
    require_login: bool
    sent_at: datetime
