"""The HTTP API: the staff API under ``/v1`` (a tenant's API key), and the one-click unsubscribe page that the
alerts' ``List-Unsubscribe`` links open (through the gateway). Controllers only translate; handlers decide."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, TypeAlias

from litestar import Controller, MediaType, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Template
from pydantic import BaseModel, Field

from loginless.events.payloads.notifications import OwnerAlerts
from loginless.notifications import handlers
from loginless.notifications.domain import Preferences as PreferencesState
from loginless.notifications.domain import ReminderSchedule
from loginless.notifications.handlers import NotificationsContext
from loginless.shared.errors import NotFound
from loginless.shared.guest.pages import NO_STORE
from loginless.shared.web.auth import StaffPrincipal
from loginless.shared.web.context import correlation_id_of
from loginless.shared.web.pagination import (
    PAGE_LIMIT_DEFAULT,
    PageCursor,
    PageLimit,
    cursor_int,
    cursor_time,
    decode_cursor,
    page,
)
from loginless.shared.web.problems import problem_responses

Staff: TypeAlias = NamedDependency[StaffPrincipal]
Notifications: TypeAlias = NamedDependency[NotificationsContext]
STAFF_PROBLEMS = {401: "Missing or invalid API key"}


class ReminderScheduleIn(BaseModel):
    """Durations as ISO 8601 (``P2D``, ``PT12H``) or seconds."""

    enabled: bool = True
    first_after: timedelta = Field(timedelta(days=2), description="After the link was sent")
    interval: timedelta = Field(timedelta(days=3), description="Between reminders while the action is pending")
    expiry_warning_before: timedelta = Field(
        timedelta(days=1), description="One last reminder this long before the link expires; zero for none")
    max_reminders: int = Field(5, description="Reminders while pending, not counting the expiry warning")

    def to_domain(self) -> ReminderSchedule:
        return ReminderSchedule(enabled=self.enabled, first_after=self.first_after, interval=self.interval,
                                expiry_warning_before=self.expiry_warning_before, max_reminders=self.max_reminders)


class PreferencesIn(BaseModel):
    owner_addresses: list[str] = Field(
        default_factory=list, max_length=100, description="Staff addresses told of guests' actions")
    owner_alerts: OwnerAlerts = Field("immediate", description="A mail per event, one daily digest, or none")
    digest_hour: int = Field(8, description="When the daily digest goes out (0-23, in timezone)")
    timezone: str = Field("Europe/Madrid", max_length=64, description="IANA time zone of the digest hour")
    language: Literal["en", "es"] = Field("en", description="Language of the owners' alerts and digests")
    reminders: ReminderScheduleIn = Field(default_factory=ReminderScheduleIn)


class SuppressedAddress(BaseModel):
    address: str
    reason: Literal["unsubscribed", "bounced"]


class PreferencesView(PreferencesIn):
    suppressed: list[SuppressedAddress] = Field(
        description="Addresses alerts skip: unsubscribed for good, or bounced until the settings are saved again")

    @classmethod
    def of(cls, preferences: PreferencesState, suppressed: dict[str, str]) -> PreferencesView:
        schedule = preferences.reminders
        return cls(owner_addresses=list(preferences.owner_addresses), owner_alerts=preferences.owner_alerts,
                   digest_hour=preferences.digest_hour, timezone=preferences.timezone, language=preferences.language,
                   reminders=ReminderScheduleIn(enabled=schedule.enabled, first_after=schedule.first_after,
                                                interval=schedule.interval,
                                                expiry_warning_before=schedule.expiry_warning_before,
                                                max_reminders=schedule.max_reminders),
                   suppressed=[SuppressedAddress(address=address, reason=reason)  # type: ignore[arg-type]
                               for address, reason in sorted(suppressed.items())])


class SettingsController(Controller):
    path = "/v1/notification-settings"
    tags = ["notification settings"]

    @get("/", summary="Whom the tenant's alerts go to, how, and its reminder schedule",
         responses=problem_responses(STAFF_PROBLEMS))
    async def get_settings(self, staff: Staff, notifications: Notifications) -> PreferencesView:
        return PreferencesView.of(*await handlers.tenant_preferences(notifications, staff.tenant_id))

    @put("/", summary="Replace the tenant's notification settings",
         description="Saving lists every address again: an address that bounced is tried again; one that "
                     "unsubscribed stays unsubscribed. A new reminder schedule applies at once to every link still "
                     "awaited.",
         responses=problem_responses(STAFF_PROBLEMS | {422: "A rule is broken (see errors)"}))
    async def put_settings(self, staff: Staff, notifications: Notifications, data: JSONBody[PreferencesIn],
                           request: Request) -> PreferencesView:
        wanted = PreferencesState(tenant_id=staff.tenant_id, owner_addresses=tuple(data.owner_addresses),
                                  owner_alerts=data.owner_alerts, digest_hour=data.digest_hour,
                                  timezone=data.timezone, language=data.language,
                                  reminders=data.reminders.to_domain())
        await handlers.change_preferences(notifications, wanted, correlation_id=correlation_id_of(request))
        return PreferencesView.of(*await handlers.tenant_preferences(notifications, staff.tenant_id))


class EndpointIn(BaseModel):
    url: str = Field(max_length=2000, description="Where each event is POSTed (public addresses only)")
    event_types: list[str] = Field(
        default_factory=list, max_length=100,
        description="CloudEvents types wanted, e.g. loginless.documents.FileUploaded.v1; empty: every type")
    description: str | None = Field(None, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")


class EndpointView(BaseModel):
    endpoint_id: str
    url: str
    event_types: list[str]
    description: str | None
    created_at: datetime


class NewSecretView(BaseModel):
    secret: str = Field(description="whsec_…: verify each request's webhook-signature with it (shown this once)")


class CreatedEndpointView(EndpointView, NewSecretView):
    pass


class EndpointList(BaseModel):
    endpoints: list[EndpointView]
    next_cursor: str | None = Field(default=None, description="Pass as ``cursor`` for the next page; null at the end")


class DeliveryView(BaseModel):
    delivery_id: str
    event_id: str
    event_type: str
    subject: str
    status: Literal["pending", "failed"]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]
    next_cursor: str | None = Field(default=None, description="Pass as ``cursor`` for the next page; null at the end")


class Redelivered(BaseModel):
    redelivered: int


ENDPOINT_PROBLEMS = STAFF_PROBLEMS | {404: "No such webhook endpoint for this tenant"}


class WebhooksController(Controller):
    path = "/v1/webhook-endpoints"
    tags = ["webhooks"]

    @post("/", summary="Send the tenant's events to a URL, signed per Standard Webhooks",
          description="Each event is POSTed as a CloudEvent (application/cloudevents+json) with webhook-id, "
                      "webhook-timestamp and webhook-signature; an endpoint that does not answer 2xx is retried "
                      "with backoff for a day, then the delivery is failed (and can be redelivered). One subject's "
                      "events arrive in order. The secret is in this answer only.",
          responses=problem_responses(STAFF_PROBLEMS | {422: "The URL is internal or malformed, or an event type "
                                                             "is unknown (see errors)"}))
    async def create(self, staff: Staff, notifications: Notifications, data: JSONBody[EndpointIn],
                     request: Request) -> CreatedEndpointView:
        endpoint, secret = await handlers.create_endpoint(
            notifications, staff.tenant_id, url=data.url, event_types=tuple(data.event_types),
            description=data.description, correlation_id=correlation_id_of(request))
        return CreatedEndpointView(endpoint_id=endpoint.endpoint_id, url=endpoint.url,
                                   event_types=list(endpoint.event_types), description=endpoint.description,
                                   created_at=endpoint.created_at, secret=secret)

    @get("/", summary="The tenant's webhook endpoints", responses=problem_responses(STAFF_PROBLEMS))
    async def list_endpoints(self, staff: Staff, notifications: Notifications, cursor: PageCursor = None,
                             limit: PageLimit = PAGE_LIMIT_DEFAULT) -> EndpointList:
        after = decode_cursor(cursor, parts=2)
        rows = await handlers.endpoints(notifications, staff.tenant_id, limit=limit + 1,
                                        after=(cursor_time(after[0]), after[1]) if after else None)
        found, next_cursor = page(rows, limit, key=lambda row: (row.created_at.isoformat(), row.endpoint_id))
        return EndpointList(endpoints=[EndpointView(
            endpoint_id=row.endpoint_id, url=row.url, event_types=row.event_types, description=row.description,
            created_at=row.created_at) for row in found], next_cursor=next_cursor)

    @delete("/{endpoint_id:str}", summary="Stop sending to an endpoint (its waiting events are dropped)",
            responses=problem_responses(ENDPOINT_PROBLEMS))
    async def delete_endpoint(self, staff: Staff, notifications: Notifications, endpoint_id: FromPath[str],
                              request: Request) -> None:
        await handlers.delete_endpoint(notifications, staff.tenant_id, endpoint_id,
                                       correlation_id=correlation_id_of(request))

    @post("/{endpoint_id:str}/rotate-secret", status_code=200,
          summary="A new signing secret; the old one keeps signing beside it for 24 hours",
          responses=problem_responses(ENDPOINT_PROBLEMS))
    async def rotate(self, staff: Staff, notifications: Notifications, endpoint_id: FromPath[str],
                     request: Request) -> NewSecretView:
        return NewSecretView(secret=await handlers.rotate_secret(
            notifications, staff.tenant_id, endpoint_id, correlation_id=correlation_id_of(request)))

    @get("/{endpoint_id:str}/deliveries", summary="Events waiting for the endpoint, or failed",
         responses=problem_responses(ENDPOINT_PROBLEMS))
    async def deliveries(self, staff: Staff, notifications: Notifications, endpoint_id: FromPath[str],
                         status: FromQuery[Literal["pending", "failed"] | None] = None,
                         cursor: PageCursor = None, limit: PageLimit = PAGE_LIMIT_DEFAULT) -> DeliveryList:
        after = decode_cursor(cursor)
        rows = await handlers.endpoint_deliveries(notifications, staff.tenant_id, endpoint_id, status=status,
                                                  limit=limit + 1, after=cursor_int(after[0]) if after else 0)
        rows, next_cursor = page(rows, limit, key=lambda row: (str(row.id),))
        return DeliveryList(next_cursor=next_cursor, deliveries=[DeliveryView(
            delivery_id=row.delivery_id, event_id=row.event_id, event_type=row.event_type, subject=row.subject,
            status=row.status, attempts=row.attempts, next_attempt_at=row.next_attempt_at,  # type: ignore[arg-type]
            last_error=row.last_error) for row in rows])

    @post("/{endpoint_id:str}/deliveries/redeliver", status_code=200,
          summary="Send every failed delivery of the endpoint again", responses=problem_responses(ENDPOINT_PROBLEMS))
    async def redeliver_all(self, staff: Staff, notifications: Notifications,
                            endpoint_id: FromPath[str]) -> Redelivered:
        return Redelivered(redelivered=await handlers.redeliver(notifications, staff.tenant_id, endpoint_id, None))

    @post("/{endpoint_id:str}/deliveries/{delivery_id:str}/redeliver", status_code=200,
          summary="Send one failed delivery again",
          responses=problem_responses(ENDPOINT_PROBLEMS | {404: "No such endpoint, or no such failed delivery"}))
    async def redeliver_one(self, staff: Staff, notifications: Notifications, endpoint_id: FromPath[str],
                            delivery_id: FromPath[str]) -> Redelivered:
        return Redelivered(redelivered=await handlers.redeliver(notifications, staff.tenant_id, endpoint_id,
                                                                delivery_id))


class UnsubscribeController(Controller):
    """RFC 8058: a GET only shows the choice (mail scanners follow links); the mail client's one-click POST, or
    the page's button, unsubscribes."""

    path = "/unsubscribe"
    include_in_schema = False

    @get("/{token:str}", media_type=MediaType.HTML)
    async def confirm(self, notifications: Notifications, token: FromPath[str]) -> Template:
        signed = notifications.unsubscribe_links.read(token)
        if signed is None:
            return _page("unknown", status_code=404)
        return _page("confirm", address=signed[1])

    @post("/{token:str}", media_type=MediaType.HTML, status_code=200)
    async def unsubscribe(self, notifications: Notifications, token: FromPath[str], request: Request) -> Template:
        try:
            address = await handlers.unsubscribe(notifications, token, correlation_id=correlation_id_of(request))
        except NotFound:
            return _page("unknown", status_code=404)
        return _page("done", address=address)


def _page(state: Literal["confirm", "done", "unknown"], *, status_code: int = 200, address: str = "") -> Template:
    return Template("unsubscribe.html", context={"state": state, "address": address, "language": "en"},
                    status_code=status_code, headers=NO_STORE)


ROUTE_HANDLERS = [SettingsController, WebhooksController, UnsubscribeController]
