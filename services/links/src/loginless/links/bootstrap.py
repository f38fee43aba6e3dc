"""The one wiring point of the links service: its context, its HTTP app, its worker and its event contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from faststream.kafka import KafkaBroker
from litestar import Litestar

from loginless.events.payloads import links as events
from loginless.links.delivery import DeliveryWorker
from loginless.links.domain import LINK
from loginless.links.handlers import LinksContext, forget_ended_links, record_expiries
from loginless.links.http import ROUTE_HANDLERS, PlatformController
from loginless.links.messages import MessageComposer
from loginless.links.projections import LinkRows
from loginless.links.repository import LinksRepository
from loginless.links.senders import NoSmsSender, OutboxFileSmsSender, SmsSender, TwilioSmsSender
from loginless.links.settings import LinksSettings
from loginless.links.tenants import ApiKeys, Tenants
from loginless.links.tokens import TokenHasher
from loginless.shared.cipher import DataCipher
from loginless.shared.clock import Clock, utc_now
from loginless.shared.eventstore import DeciderRunner, EventStore, Projections
from loginless.shared.mail import SmtpEmailSender
from loginless.shared.messaging.contract import declare_event_publisher
from loginless.shared.runtime import asyncapi_for
from loginless.shared.web import ServiceRuntime, create_service_app
from loginless.shared.web.idempotency import IdempotentRequests
from loginless.shared.worker import ServiceWorker, WorkerRuntime, every

MIGRATIONS = Path(__file__).parent / "migrations"
SETTINGS = LinksSettings
DESCRIPTION = "Capability links for every guest action: issue, revoke, use and expiry; tenants and API keys."
PUBLISHED_EVENTS = (
    events.LinkIssued, events.LinkRevoked, events.LinkOpened, events.LinkUsed, events.LinkDelivered,
    events.LinkDeliveryFailed, events.LinkVerificationLocked, events.LinkExpired,
    events.LinkVerificationReset,
)
def projections(store: EventStore, settings: LinksSettings) -> Projections:
    """Every read model of the service (``python -m loginless.links projections rebuild`` replays them)."""
    return Projections(store, [LinkRows(settings.schema)])


def links_context(store: EventStore, settings: LinksSettings, clock: Clock = utc_now) -> LinksContext:
    """Everything the handlers need. Fails at once on a missing or malformed pepper or data key."""
    cipher = DataCipher.from_setting(settings.data_key.get_secret_value())
    read_models = projections(store, settings)
    return LinksContext(
        store=store,
        links=DeciderRunner(store, LINK, read_models),
        projections=read_models,
        repository=LinksRepository(settings.schema),
        tenants=Tenants(store.pool, settings.schema),
        hasher=TokenHasher.from_setting(settings.token_peppers.get_secret_value()),
        cipher=cipher,
        idempotency=IdempotentRequests(store.pool, settings.schema, sealer=cipher),  # answers hold link URLs
        expiry_policy=settings.expiry_policy(),
        public_url=settings.public_url,
        clock=clock,
        code_caps=settings.code_sending_caps(),
        code_lock=settings.code_lock_policy(),
        sends_sms=settings.sms_provider != "none",
    )


def check_secrets(settings: LinksSettings) -> None:
    """Raise ``ValueError`` now, before the process serves anything, if a pepper or the data key is unusable."""
    TokenHasher.from_setting(settings.token_peppers.get_secret_value())
    DataCipher.from_setting(settings.data_key.get_secret_value())


def sms_sender(settings: LinksSettings) -> AbstractAsyncContextManager[SmsSender]:
    """The SMS adapter ``LINKS_SMS_PROVIDER`` names, for as long as the worker delivers (Twilio's keeps its
    connections open in between)."""
    if settings.sms_provider == "twilio":
        username, password = settings.twilio_credentials()
        return _closing(TwilioSmsSender(
            account_sid=settings.twilio_account_sid, username=username, password=password,
            sender=settings.twilio_from, messaging_service_sid=settings.twilio_messaging_service_sid,
            api_url=settings.twilio_api_url, timeout=settings.sms_timeout_seconds))
    if settings.sms_provider == "none":
        return nullcontext(NoSmsSender())
    return nullcontext(OutboxFileSmsSender(settings.sms_outbox_path))


@asynccontextmanager
async def _closing(sender: TwilioSmsSender) -> AsyncIterator[TwilioSmsSender]:
    try:
        yield sender
    finally:
        await sender.aclose()


@dataclass(frozen=True)
class LinksApp:
    """The API process's context: the handlers' context and the service's own API-key check."""

    links: LinksContext
    api_keys: ApiKeys
    guest_assertions: None = None  # links serves no guest pages


def create_app(settings: LinksSettings, *, clock: Clock = utc_now) -> Litestar:
    check_secrets(settings)

    @asynccontextmanager
    async def context(runtime: ServiceRuntime) -> AsyncIterator[LinksApp]:
        yield LinksApp(links=links_context(runtime.store, settings, clock),
                       api_keys=ApiKeys(runtime.pool, settings.schema))

    # The platform API exists only where its credential is set: elsewhere its paths are unknown (404).
    platform = [PlatformController] if settings.platform_admin_key.get_secret_value() else []
    return create_service_app(
        settings, route_handlers=[*ROUTE_HANDLERS, *platform], migrations_dir=MIGRATIONS, description=DESCRIPTION,
        context=context, context_fields=["links", "api_keys"],
    )


def create_worker(settings: LinksSettings, *, clock: Clock = utc_now) -> ServiceWorker[LinksContext]:
    check_secrets(settings)
    composer = MessageComposer(settings.smtp_from)
    email = SmtpEmailSender(settings.smtp_url, timeout=settings.smtp_timeout_seconds)

    @asynccontextmanager
    async def context(runtime: WorkerRuntime) -> AsyncIterator[LinksContext]:
        yield links_context(runtime.store, settings, clock)

    async def deliver(ctx: LinksContext) -> None:
        async with sms_sender(settings) as sms:
            await DeliveryWorker(
                ctx, composer=composer, email=email, sms=sms,
                max_attempts=settings.delivery_max_attempts, retry_seconds=settings.delivery_retry_seconds,
                poll_seconds=settings.delivery_poll_seconds,
                send_timeout_seconds=max(settings.smtp_timeout_seconds, settings.sms_timeout_seconds),
            ).run()

    async def retention(ctx: LinksContext) -> None:
        """Personal data past its retention: access records, then links that ended long ago (whole)."""
        await ctx.repository.forget_old_accesses(ctx.store.pool, settings.access_record_retention_days)
        await forget_ended_links(ctx, retention=timedelta(days=settings.ended_link_retention_days))

    return ServiceWorker(settings, context=context, migrations_dir=MIGRATIONS, tasks=[
        deliver, every(settings.expiry_sweep_seconds, record_expiries),
        every(settings.housekeeping_interval_seconds, retention)])


def asyncapi_document() -> dict:
    broker = KafkaBroker()
    declare_event_publisher(broker, "links", PUBLISHED_EVENTS)
    return asyncapi_for("links", broker, description=DESCRIPTION)
