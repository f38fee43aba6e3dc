"""The one wiring point of the links service: its HTTP app, its worker and its event contract."""

from datetime import timedelta
from pathlib import Path

from faststream.kafka import KafkaBroker
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from loginless.links.cipher import DataCipher
from loginless.links.delivery import DeliveryWorker, forget_old_records
from loginless.links.domain import ExpiryPolicy
from loginless.links.handlers import Clock, LinksContext, utc_now
from loginless.links.http import ROUTE_HANDLERS
from loginless.links.messages import MessageComposer
from loginless.links.repository import LinksRepository
from loginless.links.senders import OutboxFileSmsSender, SmtpEmailSender
from loginless.links.settings import LinksSettings
from loginless.links.tenants import ApiKeys, Tenants
from loginless.links.tokens import TokenHasher
from loginless.shared.events.payloads import links as events
from loginless.shared.eventstore import EventStore
from loginless.shared.messaging.contract import declare_event_publisher
from loginless.shared.runtime import asyncapi_for
from loginless.shared.web import ServiceRuntime, create_service_app
from loginless.shared.worker import ServiceWorker

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = "Capability links for every guest action: issue, revoke, use and expiry; tenants and API keys."
PUBLISHED_EVENTS = (
    events.LinkIssued, events.LinkRevoked, events.LinkOpened, events.LinkUsed, events.LinkDelivered,
    events.LinkDeliveryFailed, events.LinkVerificationLocked,
)
HOUSEKEEPING_INTERVAL_SECONDS = 600


def expiry_policy(settings: LinksSettings) -> ExpiryPolicy:
    return ExpiryPolicy(
        defaults={
            "view": timedelta(seconds=settings.default_expiry_seconds_view),
            "upload": timedelta(seconds=settings.default_expiry_seconds_upload),
            "pay": timedelta(seconds=settings.default_expiry_seconds_pay),
            "request": timedelta(seconds=settings.default_expiry_seconds_request),
        },
        maximum=timedelta(seconds=settings.max_expiry_seconds),
    )


def links_context(store: EventStore, settings: LinksSettings, clock: Clock = utc_now) -> LinksContext:
    """Everything the handlers need. Fails at once on a missing or malformed pepper or data key."""
    return LinksContext(
        store=store,
        repository=LinksRepository(settings.schema),
        tenants=Tenants(store.pool, settings.schema),
        hasher=TokenHasher.from_setting(settings.token_peppers.get_secret_value()),
        cipher=DataCipher.from_setting(settings.data_key.get_secret_value()),
        expiry_policy=expiry_policy(settings),
        public_url=settings.public_url,
        clock=clock,
    )


def check_secrets(settings: LinksSettings) -> None:
    """Raise ``ValueError`` now, before the process serves anything, if a pepper or the data key is unusable."""
    TokenHasher.from_setting(settings.token_peppers.get_secret_value())
    DataCipher.from_setting(settings.data_key.get_secret_value())


def provide_links(state: State) -> LinksContext:
    return state.runtime.extras["links"]


def provide_api_keys(state: State) -> ApiKeys:
    return state.runtime.api_keys


def create_app(settings: LinksSettings, *, clock: Clock = utc_now) -> Litestar:
    check_secrets(settings)

    async def start(runtime: ServiceRuntime) -> None:
        runtime.extras["links"] = links_context(runtime.store, settings, clock)

    def api_keys(runtime: ServiceRuntime) -> ApiKeys:
        return ApiKeys(runtime.pool, settings.schema)

    return create_service_app(
        settings, route_handlers=ROUTE_HANDLERS, migrations_dir=MIGRATIONS, description=DESCRIPTION,
        api_key_verifier=api_keys, on_startup=[start],
        dependencies={
            "links": Provide(provide_links, sync_to_thread=False),
            "api_keys": Provide(provide_api_keys, sync_to_thread=False),
        },
    )


def create_worker(settings: LinksSettings, *, clock: Clock = utc_now) -> ServiceWorker:
    check_secrets(settings)
    composer = MessageComposer(settings.smtp_from)
    email = SmtpEmailSender(settings.smtp_url, timeout=settings.smtp_timeout_seconds)
    sms = OutboxFileSmsSender(settings.sms_outbox_path)

    async def deliver(store: EventStore, _: LinksSettings) -> None:
        await DeliveryWorker(
            links_context(store, settings, clock), composer=composer, email=email, sms=sms,
            max_attempts=settings.delivery_max_attempts, retry_seconds=settings.delivery_retry_seconds,
            poll_seconds=settings.delivery_poll_seconds, send_timeout_seconds=settings.smtp_timeout_seconds,
        ).run()

    async def keep_house(store: EventStore, _: LinksSettings) -> None:
        await forget_old_records(links_context(store, settings, clock),
                                 access_retention_days=settings.access_record_retention_days,
                                 interval_seconds=HOUSEKEEPING_INTERVAL_SECONDS)

    return ServiceWorker(settings, tasks=[deliver, keep_house], migrations_dir=MIGRATIONS)


def asyncapi_document() -> dict:
    broker = KafkaBroker()
    declare_event_publisher(broker, "links", PUBLISHED_EVENTS)
    return asyncapi_for("links", broker, description=DESCRIPTION)
