"""Events of the links service (topic ``links.events``). No event ever carries a token or its hash."""

from datetime import datetime
from typing import Literal

from loginless.events.catalog import IntegrationEvent

GuestAction = Literal["view", "upload", "sign", "pay", "request"]
Verification = Literal["none", "email", "sms"]
DeliveryChannel = Literal["email", "sms", "none"]
# Words of links' API beside its events (a link's state as links reports it).
Language = Literal["en", "es"]
LinkStatus = Literal["active", "expired", "revoked", "used_up"]
DeliveryStatus = Literal["none", "pending", "delivered", "failed"]


class LinkIssued(IntegrationEvent, service="links", version=1):
    """One link for one recipient. Everything a gateway needs to enforce it, nothing that could open it."""

    link_id: str
    tenant_id: str
    action: GuestAction
    resource_id: str
    recipient_name: str | None = None
    recipient_email: str | None = None
    recipient_phone: str | None = None
    recipient_language: str | None = None
    expires_at: datetime
    max_uses: int | None = None
    verification: Verification = "none"
    delivery: DeliveryChannel = "none"
    issued_at: datetime


class LinkRevoked(IntegrationEvent, service="links", version=1):
    link_id: str
    tenant_id: str
    revoked_at: datetime


class LinkOpened(IntegrationEvent, service="links", version=1):
    """A guest visited the link's URL (before any verification)."""

    link_id: str
    tenant_id: str
    opened_at: datetime


class LinkUsed(IntegrationEvent, service="links", version=1):
    """A guest was let in through the link; ``uses`` counts entries so far."""

    link_id: str
    tenant_id: str
    used_at: datetime
    uses: int


class LinkDelivered(IntegrationEvent, service="links", version=1):
    """The mail server or SMS provider accepted the message; ``provider_message_id`` is the provider's id for it
    (Twilio's message SID), to look it up there; none for e-mail and events from before it was recorded."""

    link_id: str
    tenant_id: str
    channel: Literal["email", "sms"]
    delivered_at: datetime
    attempts: int
    provider_message_id: str | None = None


class LinkDeliveryFailed(IntegrationEvent, service="links", version=1):
    """Delivery was given up after ``attempts``; the link still works if its URL reaches the guest another way."""

    link_id: str
    tenant_id: str
    channel: Literal["email", "sms"]
    failed_at: datetime
    attempts: int
    reason: str


class LinkVerificationLocked(IntegrationEvent, service="links", version=1):
    """Too many wrong one-time codes: the link refuses codes until ``locked_until``, a pause that doubles with each
    lock since the last reset (capped); never for good. Events from before the pause was recorded have no
    ``locked_until``: their lock ended one first pause after ``locked_at``."""

    link_id: str
    tenant_id: str
    locked_at: datetime
    locked_until: datetime | None = None


class LinkVerificationReset(IntegrationEvent, service="links", version=1):
    """Staff cleared the link's wrong codes and any lock: codes work again at once, and the next lock is the
    first (shortest) pause again."""

    link_id: str
    tenant_id: str
    reset_at: datetime


class LinkExpired(IntegrationEvent, service="links", version=1):
    """The link reached its expiry unused up and unrevoked; recorded by the links worker shortly after, so a
    subscriber learns of it without a clock of its own. The link stopped working at ``expires_at`` either way."""

    link_id: str
    tenant_id: str
    expires_at: datetime
