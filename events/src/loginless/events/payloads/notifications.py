"""Events of the notifications service (topic ``notifications.events``).

Notifications owns no guest action: it decides whom to tell about everyone else's events, and records here what
it was told to do (a tenant's preferences), what it is waiting for (a link's pending action) and what it sent.
Durations are whole seconds. No event carries a token: a reminder asks links to send the link it already has.
"""

from datetime import datetime
from typing import Literal

from loginless.events.catalog import IntegrationEvent
from loginless.events.payloads.links import GuestAction

OwnerAlerts = Literal["immediate", "daily", "off"]
NotificationKind = Literal["owner_alert", "owner_digest", "upload_receipt", "request_receipt", "decline_notice",
                           "payment_receipt"]
ReminderKind = Literal["pending", "expiry_warning"]
RemindersStopReason = Literal["done", "revoked", "expired", "used_up", "not_resendable"]


class NotificationSettingsChanged(IntegrationEvent, service="notifications", version=1):
    """A tenant's whole notification settings as they are from now on (each change states all of them)."""

    tenant_id: str
    owner_addresses: list[str]
    owner_alerts: OwnerAlerts
    digest_hour: int  # 0-23, in ``timezone``
    timezone: str  # IANA name, e.g. Europe/Madrid
    language: Literal["en", "es"]  # of the owners' alerts and digests
    reminders_enabled: bool
    first_reminder_after_seconds: int
    reminder_interval_seconds: int
    expiry_warning_before_seconds: int  # 0: no warning before a link expires
    max_reminders: int
    changed_at: datetime


class OwnerAlertsUnsubscribed(IntegrationEvent, service="notifications", version=1):
    """Someone at ``address`` used the unsubscribe link of an alert or digest: the tenant's alerts skip it."""

    tenant_id: str
    address: str
    unsubscribed_at: datetime


class PendingActionTracked(IntegrationEvent, service="notifications", version=1):
    """A delivered link whose action is awaited: reminders follow the tenant's schedule until it is done."""

    link_id: str
    tenant_id: str
    action: GuestAction
    resource_id: str
    issued_at: datetime
    expires_at: datetime
    tracked_at: datetime


class ReminderSent(IntegrationEvent, service="notifications", version=1):
    """Links was asked to send the link again (the same URL, by its channel): ``pending`` on the tenant's schedule,
    ``expiry_warning`` once before the link expires. Subscribers learn who is still pending, and until when."""

    link_id: str
    tenant_id: str
    action: GuestAction
    resource_id: str
    kind: ReminderKind
    number: int  # 1 for the link's first reminder of either kind
    expires_at: datetime
    sent_at: datetime


class RemindersStopped(IntegrationEvent, service="notifications", version=1):
    """No more reminders for the link: its action was done, it ended, or links cannot send it again."""

    link_id: str
    tenant_id: str
    reason: RemindersStopReason
    stopped_at: datetime


class NotificationSent(IntegrationEvent, service="notifications", version=1):
    """An e-mail of notifications' own went out: the mail server accepted it. ``message_id`` is its Message-ID,
    the same on every attempt, so a copy sent twice is recognisable as one message."""

    notification_id: str
    tenant_id: str
    kind: NotificationKind
    recipient: str
    message_id: str
    sent_at: datetime
    attempts: int


class NotificationFailed(IntegrationEvent, service="notifications", version=1):
    """Given up: the server refused the address (``bounced``: a hard bounce, the address is not written to
    again for the tenant's alerts) or every attempt failed."""

    notification_id: str
    tenant_id: str
    kind: NotificationKind
    recipient: str
    reason: str
    bounced: bool
    failed_at: datetime
    attempts: int


class WebhookEndpointCreated(IntegrationEvent, service="notifications", version=1):
    """A tenant's system wants events over HTTP: ``event_types`` (empty: every type) POSTed to ``url``, signed
    per Standard Webhooks. The signing secret is never in an event."""

    endpoint_id: str
    tenant_id: str
    url: str
    event_types: list[str]
    description: str | None = None
    created_at: datetime


class WebhookSecretRotated(IntegrationEvent, service="notifications", version=1):
    """A new signing secret; the previous one still signs beside it until ``previous_valid_until``."""

    endpoint_id: str
    tenant_id: str
    rotated_at: datetime
    previous_valid_until: datetime


class WebhookEndpointDeleted(IntegrationEvent, service="notifications", version=1):
    endpoint_id: str
    tenant_id: str
    deleted_at: datetime


class WebhookDelivered(IntegrationEvent, service="notifications", version=1):
    """The endpoint answered 2xx to one event (``event_id``, the ``webhook-id`` it was sent with)."""

    delivery_id: str
    endpoint_id: str
    tenant_id: str
    event_id: str
    event_type: str
    subject: str
    attempts: int
    delivered_at: datetime


class WebhookFailed(IntegrationEvent, service="notifications", version=1):
    """Given up after retrying for a day; staff see it and may redeliver it."""

    delivery_id: str
    endpoint_id: str
    tenant_id: str
    event_id: str
    event_type: str
    subject: str
    attempts: int
    reason: str
    failed_at: datetime


class ResourceRemindersSet(IntegrationEvent, service="notifications", version=1):
    """Reminders for one resource's links (an envelope, say) follow this schedule instead of the tenant's, as the
    service that owns the resource asked. Stream ``resource-reminders:<resource_id>``."""

    tenant_id: str
    resource_id: str
    reminders_enabled: bool
    first_reminder_after_seconds: int
    reminder_interval_seconds: int
    expiry_warning_before_seconds: int
    max_reminders: int
    set_at: datetime
