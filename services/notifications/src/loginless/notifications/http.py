"""The HTTP API: the staff API under ``/v1`` (a tenant's API key), and the one-click unsubscribe page that the
alerts' ``List-Unsubscribe`` links open (through the gateway). Controllers only translate; handlers decide."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, TypeAlias

from litestar import Controller, MediaType, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
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


ROUTE_HANDLERS = [SettingsController, UnsubscribeController]
