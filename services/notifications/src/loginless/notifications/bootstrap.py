"""The one wiring point of the notifications service: its context, its HTTP app, its worker and its event
contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from litestar import Litestar
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig

from loginless.events.payloads import notifications as events
from loginless.links.client import LinksApi, LinksApiKeys, links_held
from loginless.notifications import domain
from loginless.notifications.handlers import (
    NotificationsContext,
    Webhooks,
    forget_old_records,
    send_due_webhooks,
    work_through_due,
)
from loginless.notifications.http import ROUTE_HANDLERS
from loginless.notifications.mails import CATALOGS, MailComposer
from loginless.notifications.projections import NotificationRows
from loginless.notifications.repository import NotificationsRepository, WebhooksRepository
from loginless.notifications.settings import NotificationsSettings
from loginless.notifications.unsubscribe import UnsubscribeLinks
from loginless.notifications.webhooks import WebhookSender
from loginless.payments.client import PaymentsApi, payments_held
from loginless.shared.cipher import DataCipher
from loginless.shared.clock import Clock, utc_now
from loginless.shared.eventstore import DeciderRunner, EventStore, Projections
from loginless.shared.guest.pages import mail_environment
from loginless.shared.mail import RawEmailSender, SmtpEmailSender
from loginless.shared.web import ServiceRuntime, create_service_app
from loginless.shared.web.auth import ApiKeyVerifier

# The worker and the event contract need FastStream and Kafka clients, the API process does not.
if TYPE_CHECKING:
    from loginless.shared.worker import ServiceWorker, WorkerRuntime

MIGRATIONS = Path(__file__).parent / "migrations"
SETTINGS = NotificationsSettings
DESCRIPTION = "Owner alerts, guest receipts and reminders, decided from every service's events and sent once."
PUBLISHED_EVENTS = (
    events.NotificationSettingsChanged, events.OwnerAlertsUnsubscribed, events.PendingActionTracked,
    events.ReminderSent, events.RemindersStopped, events.NotificationSent, events.NotificationFailed,
    events.WebhookEndpointCreated, events.WebhookSecretRotated, events.WebhookEndpointDeleted,
    events.WebhookDelivered, events.WebhookFailed, events.ResourceRemindersSet,
)


def projections(store: EventStore, settings: NotificationsSettings) -> Projections:
    """Every read model of the service (``python -m loginless.notifications projections rebuild`` replays them)."""
    return Projections(store, [NotificationRows(settings.schema)])


def notifications_context(store: EventStore, settings: NotificationsSettings, *, links: LinksApi,
                          payments: PaymentsApi | None = None, email: RawEmailSender | None = None,
                          clock: Clock = utc_now) -> NotificationsContext:
    read_models = projections(store, settings)
    key = (settings.unsubscribe_secret.get_secret_value() or settings.internal_api_secret.get_secret_value())
    return NotificationsContext(
        settings=settings, store=store, projections=read_models,
        preferences=DeciderRunner(store, domain.PREFERENCES, read_models),
        pending=DeciderRunner(store, domain.PENDING_ACTION, read_models),
        notifications=DeciderRunner(store, domain.NOTIFICATION, read_models),
        resource_reminders=DeciderRunner(store, domain.RESOURCE_REMINDERS, read_models),
        repository=NotificationsRepository(settings.schema), links=links, payments=payments,
        composer=MailComposer(settings.smtp_from),
        unsubscribe_links=UnsubscribeLinks(key.encode(), settings.public_url),
        email=email or SmtpEmailSender(settings.smtp_url, timeout=settings.smtp_timeout_seconds),
        webhooks=webhooks(store, settings, read_models), clock=clock,
    )


def webhooks(store: EventStore, settings: NotificationsSettings, read_models: Projections) -> Webhooks:
    data_key = settings.webhook_data_key.get_secret_value()
    return Webhooks(
        endpoints=DeciderRunner(store, domain.ENDPOINT, read_models),
        deliveries=DeciderRunner(store, domain.WEBHOOK_DELIVERY, read_models),
        repository=WebhooksRepository(settings.schema),
        cipher=DataCipher.from_setting(data_key, name="NOTIFICATIONS_WEBHOOK_DATA_KEY") if data_key else None,
        sender=WebhookSender(timeout_seconds=settings.webhook_timeout_seconds,
                             allow_private=settings.webhook_allow_private_addresses))


@dataclass(frozen=True)
class NotificationsApp:
    """The API process's context."""

    notifications: NotificationsContext
    api_keys: ApiKeyVerifier


def create_app(settings: NotificationsSettings, *, links: LinksApi | None = None,
               payments: PaymentsApi | None = None, api_keys: ApiKeyVerifier | None = None,
               clock: Clock = utc_now) -> Litestar:
    """The HTTP app. ``links``, ``payments``, ``api_keys`` and ``clock`` replace the real ones (tests give fakes)."""

    @asynccontextmanager
    async def context(runtime: ServiceRuntime) -> AsyncIterator[NotificationsApp]:
        async with links_held(settings, links) as links_api, payments_held(settings, payments) as payments_api:
            notifications = notifications_context(runtime.store, settings, links=links_api, payments=payments_api,
                                                  clock=clock)
            try:
                yield NotificationsApp(notifications=notifications, api_keys=api_keys or LinksApiKeys(links_api))
            finally:
                await notifications.webhooks.sender.close()

    pages = TemplateConfig(instance=JinjaTemplateEngine.from_environment(
        mail_environment("loginless.notifications", catalogs=CATALOGS)))
    return create_service_app(settings, route_handlers=ROUTE_HANDLERS, migrations_dir=MIGRATIONS,
                              description=DESCRIPTION, context=context, context_fields=["notifications"],
                              template_config=pages)


def create_worker(settings: NotificationsSettings, *, links: LinksApi | None = None,
                  payments: PaymentsApi | None = None, email: RawEmailSender | None = None,
                  clock: Clock = utc_now) -> ServiceWorker[NotificationsContext]:
    from loginless.notifications.consumers import CONSUMERS
    from loginless.shared.worker import ServiceWorker, every

    @asynccontextmanager
    async def context(runtime: WorkerRuntime) -> AsyncIterator[NotificationsContext]:
        async with links_held(settings, links) as links_api, payments_held(settings, payments) as payments_api:
            notifications = notifications_context(runtime.store, settings, links=links_api, payments=payments_api,
                                                  email=email, clock=clock)
            try:
                yield notifications
            finally:
                await notifications.webhooks.sender.close()

    return ServiceWorker(settings, context=context, migrations_dir=MIGRATIONS, consumers=CONSUMERS,
                         tasks=[every(settings.poll_seconds, work_through_due),
                                # Apart from the mails: a slow endpoint never holds up a mail or a reminder.
                                every(settings.poll_seconds, send_due_webhooks),
                                every(settings.housekeeping_interval_seconds, forget_old_records)])


def asyncapi_document() -> dict:
    from faststream.kafka import KafkaBroker

    from loginless.notifications.consumers import CONSUMERS
    from loginless.shared.messaging.contract import declare_event_publisher
    from loginless.shared.runtime import asyncapi_for

    broker = KafkaBroker()
    declare_event_publisher(broker, "notifications", PUBLISHED_EVENTS)
    # Declares the subscriptions only; no settings or database are needed to describe them.
    settings = NotificationsSettings.model_construct(database_url="postgresql://unused")
    store = EventStore(None, schema=settings.schema, topic=settings.events_topic)  # type: ignore[arg-type]
    context = NotificationsContext(settings=settings, store=store, projections=None,  # type: ignore[arg-type]
                                   preferences=None, pending=None, notifications=None,  # type: ignore[arg-type]
                                   resource_reminders=None,  # type: ignore[arg-type]
                                   repository=None, links=None, payments=None, composer=None,  # type: ignore[arg-type]
                                   unsubscribe_links=None, email=None, webhooks=None)  # type: ignore[arg-type]
    for consumer in CONSUMERS:
        consumer(context).subscribe(broker)
    return asyncapi_for("notifications", broker, description=DESCRIPTION)
