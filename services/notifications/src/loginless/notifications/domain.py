"""Notifications' aggregates as deciders: a tenant's preferences, a link's pending action, one outgoing e-mail.

* ``PREFERENCES`` (stream ``preferences:<tenant_id>``): whom to alert and how, and the reminder schedule.
* ``PENDING_ACTION`` (stream ``pending:<link_id>``): a delivered link whose action is awaited. Its reminders are
  due on the tenant's schedule (:func:`next_reminder`) and stop for good once the action is done or the link
  ends. Events of other services arrive on different topics in no particular order, so "done" may come before
  "tracked": the stream then starts stopped, and the late ``LinkIssued`` changes nothing.
* ``NOTIFICATION`` (stream ``notification:<id>``): the outcome of one e-mail, recorded once however often the
  sender reports it.

No I/O here; the handlers load, decide and append through the kernel's runner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from loginless.events import IntegrationEvent
from loginless.events.payloads.links import GuestAction
from loginless.events.payloads.notifications import (
    NotificationFailed,
    NotificationKind,
    NotificationSent,
    NotificationSettingsChanged,
    OwnerAlerts,
    OwnerAlertsUnsubscribed,
    PendingActionTracked,
    ReminderKind,
    ReminderSent,
    RemindersStopped,
    RemindersStopReason,
    ResourceRemindersSet,
    WebhookDelivered,
    WebhookEndpointCreated,
    WebhookEndpointDeleted,
    WebhookFailed,
    WebhookSecretRotated,
)
from loginless.shared.errors import InvalidRequest, NotFound
from loginless.shared.eventstore.decider import Decider

MAX_OWNER_ADDRESSES = 20
# What the firm is waiting for a guest to do: unsigned, unpaid, unanswered, nothing uploaded.
PENDING_ACTIONS: frozenset[GuestAction] = frozenset({"upload", "sign", "pay", "request"})
MAX_REMINDERS_LIMIT = 50
MIN_REMINDER_INTERVAL = timedelta(seconds=1)  # seconds make a schedule testable; days are what firms choose
MAX_REMINDER_INTERVAL = timedelta(days=365)  # no link lives longer
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f<>\"]{1,64}@[^@\s\x00-\x1f\x7f<>\"]+\.[^@\s\x00-\x1f\x7f<>\"]+$")


def preferences_stream(tenant_id: str) -> str:
    return f"preferences:{tenant_id}"


def pending_stream(link_id: str) -> str:
    return f"pending:{link_id}"


def notification_stream(notification_id: str) -> str:
    return f"notification:{notification_id}"


# ---- a tenant's preferences ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderSchedule:
    """Defaults: two days after the link was sent, then every three days, and once a day before it expires."""

    enabled: bool = True
    first_after: timedelta = timedelta(days=2)
    interval: timedelta = timedelta(days=3)
    expiry_warning_before: timedelta = timedelta(days=1)  # zero: no expiry warning
    max_reminders: int = 5  # of the "pending" kind; the expiry warning comes on top


@dataclass(frozen=True)
class Preferences:
    tenant_id: str
    owner_addresses: tuple[str, ...] = ()
    owner_alerts: OwnerAlerts = "immediate"
    digest_hour: int = 8
    timezone: str = "Europe/Madrid"
    language: Literal["en", "es"] = "en"
    reminders: ReminderSchedule = field(default_factory=ReminderSchedule)
    unsubscribed: frozenset[str] = frozenset()

    def alert_recipients(self) -> tuple[str, ...]:
        """Whom an alert or digest goes to: the owners' addresses, less those that unsubscribed."""
        if self.owner_alerts == "off":
            return ()
        return tuple(address for address in self.owner_addresses if address.lower() not in self.unsubscribed)


def default_preferences(tenant_id: str) -> Preferences:
    """A tenant that never set anything: no owner alerts (no address to send them to), default reminders."""
    return Preferences(tenant_id=tenant_id)


@dataclass(frozen=True)
class ChangePreferences:
    preferences: Preferences
    now: datetime


@dataclass(frozen=True)
class Unsubscribe:
    tenant_id: str
    address: str
    now: datetime


def check_preferences(preferences: Preferences) -> Preferences:
    """The preferences as stored (addresses trimmed, de-duplicated), or ``InvalidRequest`` naming every rule
    broken."""
    errors: list[dict[str, str]] = []
    addresses: list[str] = []
    for index, address in enumerate(preferences.owner_addresses):
        address = address.strip()
        if not _EMAIL.match(address):
            errors.append({"field": f"owner_addresses[{index}]", "message": "not an e-mail address"})
        elif address.lower() not in (known.lower() for known in addresses):
            addresses.append(address)
    if len(addresses) > MAX_OWNER_ADDRESSES:
        errors.append({"field": "owner_addresses", "message": f"at most {MAX_OWNER_ADDRESSES} addresses"})
    if not 0 <= preferences.digest_hour <= 23:
        errors.append({"field": "digest_hour", "message": "an hour from 0 to 23"})
    if not _is_time_zone(preferences.timezone):
        errors.append({"field": "timezone", "message": "not an IANA time zone (e.g. Europe/Madrid)"})
    schedule = preferences.reminders
    for name, value in (("first_reminder_after", schedule.first_after), ("reminder_interval", schedule.interval)):
        if not MIN_REMINDER_INTERVAL <= value <= MAX_REMINDER_INTERVAL:
            errors.append({"field": name, "message": "from one second to 365 days"})
    if not timedelta(0) <= schedule.expiry_warning_before <= MAX_REMINDER_INTERVAL:
        errors.append({"field": "expiry_warning_before", "message": "from zero (no warning) to 365 days"})
    if not 0 <= schedule.max_reminders <= MAX_REMINDERS_LIMIT:
        errors.append({"field": "max_reminders", "message": f"from 0 to {MAX_REMINDERS_LIMIT}"})
    if errors:
        raise InvalidRequest("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    return replace(preferences, owner_addresses=tuple(addresses))


def _is_time_zone(name: str) -> bool:
    if name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def decide_preferences(state: Preferences | None, command: ChangePreferences | Unsubscribe,
                       ) -> list[IntegrationEvent]:
    match command:
        case ChangePreferences(preferences=wanted, now=now):
            # Every save is recorded, even of the same settings: it is staff saying these addresses work, which
            # is what lets an address that bounced be tried again.
            wanted = check_preferences(wanted)
            schedule = wanted.reminders
            return [NotificationSettingsChanged(
                tenant_id=wanted.tenant_id, owner_addresses=list(wanted.owner_addresses),
                owner_alerts=wanted.owner_alerts, digest_hour=wanted.digest_hour, timezone=wanted.timezone,
                language=wanted.language, reminders_enabled=schedule.enabled,
                first_reminder_after_seconds=_seconds(schedule.first_after),
                reminder_interval_seconds=_seconds(schedule.interval),
                expiry_warning_before_seconds=_seconds(schedule.expiry_warning_before),
                max_reminders=schedule.max_reminders, changed_at=now)]
        case Unsubscribe(tenant_id=tenant_id, address=address, now=now):
            current = state or default_preferences(tenant_id)
            if address.lower() in current.unsubscribed:
                return []
            return [OwnerAlertsUnsubscribed(tenant_id=tenant_id, address=address.lower(), unsubscribed_at=now)]
    raise TypeError(f"unknown command {command!r}")


def evolve_preferences(state: Preferences | None, event: IntegrationEvent) -> Preferences:
    match event:
        case NotificationSettingsChanged() as changed:
            unsubscribed = state.unsubscribed if state else frozenset()
            return Preferences(
                tenant_id=changed.tenant_id, owner_addresses=tuple(changed.owner_addresses),
                owner_alerts=changed.owner_alerts, digest_hour=changed.digest_hour, timezone=changed.timezone,
                language=changed.language, unsubscribed=unsubscribed, reminders=ReminderSchedule(
                    enabled=changed.reminders_enabled,
                    first_after=timedelta(seconds=changed.first_reminder_after_seconds),
                    interval=timedelta(seconds=changed.reminder_interval_seconds),
                    expiry_warning_before=timedelta(seconds=changed.expiry_warning_before_seconds),
                    max_reminders=changed.max_reminders))
        case OwnerAlertsUnsubscribed(tenant_id=tenant_id, address=address):
            current = state or default_preferences(tenant_id)
            return replace(current, unsubscribed=current.unsubscribed | {address})
    raise TypeError(f"unknown event {type(event).__name__}")


def _seconds(duration: timedelta) -> int:
    return int(duration.total_seconds())


PREFERENCES: Decider[Preferences, ChangePreferences | Unsubscribe] = Decider(decide_preferences, evolve_preferences)


def next_digest_at(after: datetime, hour: int, timezone: str) -> datetime:
    """The first ``hour`` o'clock in ``timezone`` strictly after ``after``: when the digest that gathers it goes
    out (a day's facts, from one digest to the next). Daylight-saving changes keep the local hour."""
    zone = ZoneInfo(timezone)
    local = after.astimezone(zone)
    candidate = datetime.combine(local.date(), time(hour), tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=zone)
    return candidate.astimezone(UTC)


# ---- a link's pending action --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingAction:
    link_id: str
    tenant_id: str
    action: GuestAction | None = None  # None until LinkIssued arrived (the action may be known done first)
    resource_id: str = ""
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    reminders_sent: int = 0  # of the "pending" kind
    last_reminder_at: datetime | None = None
    expiry_warning_sent: bool = False
    stopped: RemindersStopReason | None = None

    @property
    def awaiting(self) -> bool:
        return self.stopped is None and self.issued_at is not None


@dataclass(frozen=True)
class DueReminder:
    at: datetime
    kind: ReminderKind


def next_reminder(pending: PendingAction, schedule: ReminderSchedule) -> DueReminder | None:
    """When the next reminder is due, and which kind, or None when no more will be sent.

    "Pending" reminders come ``first_after`` the link was issued, then every ``interval`` after the last one
    sent (so a worker that was down sends one late reminder, not a burst), up to ``max_reminders``, for actions a
    firm waits for (``PENDING_ACTIONS``: a document shared to be viewed is not chased). The expiry warning comes
    once, ``expiry_warning_before`` the expiry, for every action, and is the last: pending reminders that would
    fall after it are not sent.
    """
    if not pending.awaiting or not schedule.enabled or pending.expiry_warning_sent:
        return None
    assert pending.issued_at is not None and pending.expires_at is not None
    warning_at = None
    if schedule.expiry_warning_before > timedelta(0):
        at = pending.expires_at - schedule.expiry_warning_before
        warning_at = at if at > pending.issued_at else None  # a link too short for a warning gets none
    if pending.action in PENDING_ACTIONS and pending.reminders_sent < schedule.max_reminders:
        at = (pending.last_reminder_at + schedule.interval if pending.last_reminder_at is not None
              else pending.issued_at + schedule.first_after)
        if at < pending.expires_at and (warning_at is None or at < warning_at):
            return DueReminder(at, "pending")
    return DueReminder(warning_at, "expiry_warning") if warning_at is not None else None


@dataclass(frozen=True)
class TrackAction:
    link_id: str
    tenant_id: str
    action: GuestAction
    resource_id: str
    issued_at: datetime
    expires_at: datetime
    now: datetime


@dataclass(frozen=True)
class StopReminders:
    link_id: str
    tenant_id: str
    reason: RemindersStopReason
    now: datetime


@dataclass(frozen=True)
class SendReminder:
    schedule: ReminderSchedule
    now: datetime


PendingCommand = TrackAction | StopReminders | SendReminder


class ReminderNotDue(Exception):
    """Nothing is due: another worker sent it first, or the action ended meanwhile."""


def decide_pending(state: PendingAction | None, command: PendingCommand) -> list[IntegrationEvent]:
    match command:
        case TrackAction() as track:
            if state is not None:
                return []  # tracked already, or known done or ended before its LinkIssued arrived
            return [PendingActionTracked(link_id=track.link_id, tenant_id=track.tenant_id, action=track.action,
                                         resource_id=track.resource_id, issued_at=track.issued_at,
                                         expires_at=track.expires_at, tracked_at=track.now)]
        case StopReminders(link_id=link_id, tenant_id=tenant_id, reason=reason, now=now):
            if state is not None and state.stopped is not None:
                return []  # the first reason stands
            return [RemindersStopped(link_id=link_id, tenant_id=tenant_id, reason=reason, stopped_at=now)]
        case SendReminder(schedule=schedule, now=now):
            due = next_reminder(state, schedule) if state is not None else None
            if due is None or due.at > now:
                raise ReminderNotDue()
            assert state is not None and state.action is not None and state.expires_at is not None
            number = state.reminders_sent + (1 if state.expiry_warning_sent else 0) + 1
            return [ReminderSent(link_id=state.link_id, tenant_id=state.tenant_id, action=state.action,
                                 resource_id=state.resource_id, kind=due.kind, number=number,
                                 expires_at=state.expires_at, sent_at=now)]
    raise TypeError(f"unknown command {command!r}")


def evolve_pending(state: PendingAction | None, event: IntegrationEvent) -> PendingAction:
    match event:
        case PendingActionTracked() as tracked:
            return PendingAction(link_id=tracked.link_id, tenant_id=tracked.tenant_id, action=tracked.action,
                                 resource_id=tracked.resource_id, issued_at=tracked.issued_at,
                                 expires_at=tracked.expires_at)
        case RemindersStopped(link_id=link_id, tenant_id=tenant_id, reason=reason):
            return replace(state or PendingAction(link_id=link_id, tenant_id=tenant_id), stopped=reason)
        case ReminderSent(kind=kind, sent_at=at) if state is not None:
            if kind == "expiry_warning":
                return replace(state, expiry_warning_sent=True)
            return replace(state, reminders_sent=state.reminders_sent + 1, last_reminder_at=at)
    raise TypeError(f"unknown event {type(event).__name__}")


PENDING_ACTION: Decider[PendingAction, PendingCommand] = Decider(decide_pending, evolve_pending)


# ---- one outgoing e-mail ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    notification_id: str
    tenant_id: str
    outcome: Literal["sent", "failed"]


@dataclass(frozen=True)
class RecordOutcome:
    notification_id: str
    tenant_id: str
    kind: NotificationKind
    recipient: str
    message_id: str
    attempts: int
    now: datetime
    failure: str | None = None  # None: the mail server accepted it
    bounced: bool = False


def decide_notification(state: Notification | None, command: RecordOutcome) -> list[IntegrationEvent]:
    if state is not None:
        return []  # reported again (a retried round): the first outcome stands
    ids = {"notification_id": command.notification_id, "tenant_id": command.tenant_id, "kind": command.kind,
           "recipient": command.recipient, "attempts": command.attempts}
    if command.failure is None:
        return [NotificationSent(**ids, message_id=command.message_id, sent_at=command.now)]
    return [NotificationFailed(**ids, reason=command.failure, bounced=command.bounced, failed_at=command.now)]


def evolve_notification(state: Notification | None, event: IntegrationEvent) -> Notification:
    match event:
        case NotificationSent(notification_id=notification_id, tenant_id=tenant_id):
            return Notification(notification_id, tenant_id, "sent")
        case NotificationFailed(notification_id=notification_id, tenant_id=tenant_id):
            return Notification(notification_id, tenant_id, "failed")
    raise TypeError(f"unknown event {type(event).__name__}")


NOTIFICATION: Decider[Notification, RecordOutcome] = Decider(decide_notification, evolve_notification)


# ---- webhook endpoints ------------------------------------------------------------------------------------------

MAX_EVENT_TYPES = 100
SECRET_OVERLAP = timedelta(hours=24)  # a rotated secret keeps signing beside the new one, so receivers can switch


def endpoint_stream(endpoint_id: str) -> str:
    return f"endpoint:{endpoint_id}"


def webhook_delivery_stream(delivery_id: str) -> str:
    return f"webhook-delivery:{delivery_id}"


@dataclass(frozen=True)
class WebhookEndpoint:
    endpoint_id: str
    tenant_id: str
    url: str
    event_types: tuple[str, ...]
    description: str | None
    created_at: datetime
    deleted: bool = False

    def wants(self, event_type: str) -> bool:
        return not self.deleted and (not self.event_types or event_type in self.event_types)


@dataclass(frozen=True)
class CreateEndpoint:
    endpoint_id: str
    tenant_id: str
    url: str
    event_types: tuple[str, ...]
    description: str | None
    now: datetime


@dataclass(frozen=True)
class RotateSecret:
    now: datetime


@dataclass(frozen=True)
class DeleteEndpoint:
    now: datetime


EndpointCommand = CreateEndpoint | RotateSecret | DeleteEndpoint


def check_event_types(event_types: tuple[str, ...], known: set[str]) -> tuple[str, ...]:
    """The types as stored, or ``InvalidRequest`` naming each unknown one (a typo would subscribe to nothing)."""
    errors = [{"field": f"event_types[{index}]", "message": "not an event type loginless publishes"}
              for index, name in enumerate(event_types) if name not in known]
    if len(event_types) > MAX_EVENT_TYPES:
        errors.append({"field": "event_types", "message": f"at most {MAX_EVENT_TYPES}"})
    if errors:
        raise InvalidRequest("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    return tuple(dict.fromkeys(event_types))


def decide_endpoint(state: WebhookEndpoint | None, command: EndpointCommand) -> list[IntegrationEvent]:
    match command:
        case CreateEndpoint() as create:
            if state is not None:
                raise ValueError(f"endpoint {create.endpoint_id} exists already")
            return [WebhookEndpointCreated(endpoint_id=create.endpoint_id, tenant_id=create.tenant_id,
                                           url=create.url, event_types=list(create.event_types),
                                           description=create.description, created_at=create.now)]
    if state is None or state.deleted:
        raise NotFound("no such webhook endpoint")
    ids = {"endpoint_id": state.endpoint_id, "tenant_id": state.tenant_id}
    match command:
        case RotateSecret(now=now):
            return [WebhookSecretRotated(**ids, rotated_at=now, previous_valid_until=now + SECRET_OVERLAP)]
        case DeleteEndpoint(now=now):
            return [WebhookEndpointDeleted(**ids, deleted_at=now)]
    raise TypeError(f"unknown command {command!r}")


def evolve_endpoint(state: WebhookEndpoint | None, event: IntegrationEvent) -> WebhookEndpoint:
    match event:
        case WebhookEndpointCreated() as created:
            return WebhookEndpoint(endpoint_id=created.endpoint_id, tenant_id=created.tenant_id, url=created.url,
                                   event_types=tuple(created.event_types), description=created.description,
                                   created_at=created.created_at)
        case WebhookSecretRotated() if state is not None:
            return state
        case WebhookEndpointDeleted() if state is not None:
            return replace(state, deleted=True)
    raise TypeError(f"unknown event {type(event).__name__}")


ENDPOINT: Decider[WebhookEndpoint, EndpointCommand] = Decider(decide_endpoint, evolve_endpoint)


@dataclass(frozen=True)
class WebhookDelivery:
    delivery_id: str
    tenant_id: str


@dataclass(frozen=True)
class RecordWebhookOutcome:
    delivery_id: str
    endpoint_id: str
    tenant_id: str
    event_id: str
    event_type: str
    subject: str
    attempts: int
    now: datetime
    failure: str | None = None  # None: delivered


def decide_delivery(state: WebhookDelivery | None, command: RecordWebhookOutcome) -> list[IntegrationEvent]:
    ids = {"delivery_id": command.delivery_id, "endpoint_id": command.endpoint_id, "tenant_id": command.tenant_id,
           "event_id": command.event_id, "event_type": command.event_type, "subject": command.subject,
           "attempts": command.attempts}
    if command.failure is None:
        return [WebhookDelivered(**ids, delivered_at=command.now)]
    return [WebhookFailed(**ids, reason=command.failure, failed_at=command.now)]


def evolve_delivery(state: WebhookDelivery | None, event: IntegrationEvent) -> WebhookDelivery:
    match event:
        case WebhookDelivered(delivery_id=delivery_id, tenant_id=tenant_id) | WebhookFailed(
                delivery_id=delivery_id, tenant_id=tenant_id):
            return WebhookDelivery(delivery_id, tenant_id)
    raise TypeError(f"unknown event {type(event).__name__}")


# A delivery's stream records each outcome: a failure, then (after staff redeliver it) a success.
WEBHOOK_DELIVERY: Decider[WebhookDelivery, RecordWebhookOutcome] = Decider(decide_delivery, evolve_delivery)


# ---- a resource's own reminder schedule -------------------------------------------------------------------------


def resource_reminders_stream(resource_id: str) -> str:
    return f"resource-reminders:{resource_id}"


@dataclass(frozen=True)
class ResourceReminders:
    tenant_id: str
    resource_id: str
    schedule: ReminderSchedule


@dataclass(frozen=True)
class SetResourceReminders:
    """The owning service's schedule for one resource's links (an envelope's sender chose it)."""

    tenant_id: str
    resource_id: str
    schedule: ReminderSchedule
    now: datetime


def decide_resource_reminders(state: ResourceReminders | None,
                              command: SetResourceReminders) -> list[IntegrationEvent]:
    if state is not None and state.schedule == command.schedule:
        return []
    schedule = command.schedule
    return [ResourceRemindersSet(
        tenant_id=command.tenant_id, resource_id=command.resource_id, reminders_enabled=schedule.enabled,
        first_reminder_after_seconds=_seconds(schedule.first_after),
        reminder_interval_seconds=_seconds(schedule.interval),
        expiry_warning_before_seconds=_seconds(schedule.expiry_warning_before),
        max_reminders=schedule.max_reminders, set_at=command.now)]


def evolve_resource_reminders(state: ResourceReminders | None, event: IntegrationEvent) -> ResourceReminders:
    assert isinstance(event, ResourceRemindersSet)
    return ResourceReminders(tenant_id=event.tenant_id, resource_id=event.resource_id,
                             schedule=schedule_of_event(event))


def schedule_of_event(event: ResourceRemindersSet) -> ReminderSchedule:
    return ReminderSchedule(enabled=event.reminders_enabled,
                            first_after=timedelta(seconds=event.first_reminder_after_seconds),
                            interval=timedelta(seconds=event.reminder_interval_seconds),
                            expiry_warning_before=timedelta(seconds=event.expiry_warning_before_seconds),
                            max_reminders=event.max_reminders)


RESOURCE_REMINDERS: Decider[ResourceReminders, SetResourceReminders] = Decider(
    decide=decide_resource_reminders, evolve=evolve_resource_reminders)
