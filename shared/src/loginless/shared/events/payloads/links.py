"""Events of the links service (topic ``links.events``). No event ever carries a token or its hash."""

from datetime import datetime
from typing import Literal

from loginless.shared.events.catalog import IntegrationEvent

GuestAction = Literal["view", "upload", "sign", "pay", "request"]


class LinkIssued(IntegrationEvent, service="links", version=1):
    link_id: str
    tenant_id: str
    action: GuestAction
    resource_id: str
    recipient_email: str | None = None
    recipient_phone: str | None = None
    recipient_name: str | None = None
    expires_at: datetime
    max_uses: int | None = None
    verification_required: bool = False


class LinkRevoked(IntegrationEvent, service="links", version=1):
    link_id: str
    tenant_id: str
    revoked_at: datetime


class LinkOpened(IntegrationEvent, service="links", version=1):
    link_id: str
    tenant_id: str
    opened_at: datetime


class LinkUsed(IntegrationEvent, service="links", version=1):
    link_id: str
    tenant_id: str
    used_at: datetime
    uses: int
