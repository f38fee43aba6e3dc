"""The one wiring point of the payments service: its context, its HTTP app, its worker and its event contract."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from litestar import Litestar

from loginless.events.payloads import payments as events
from loginless.links.client import LinksApi, LinksApiKeys, links_held
from loginless.payments import domain
from loginless.payments.guest import ASSET_ROUTES, GuestController, GuestPages
from loginless.payments.handlers import PaymentsContext, sweep_pending, work_through_jobs
from loginless.payments.http import ROUTE_HANDLERS
from loginless.payments.i18n import CATALOGS
from loginless.payments.ports import PaymentProvider
from loginless.payments.projections import InvoiceQueries, InvoiceRows
from loginless.payments.settings import PaymentsSettings
from loginless.payments.stripeprovider import StripeProvider, StripeSdkApi
from loginless.payments.testprovider import TestProvider
from loginless.shared.clock import Clock, utc_now
from loginless.shared.eventstore import DeciderRunner, EventStore, Jobs, Projections
from loginless.shared.guest.pages import guest_template_config
from loginless.shared.web import ServiceRuntime, create_service_app
from loginless.shared.web.assertion import AssertionVerifier
from loginless.shared.web.auth import ApiKeyVerifier
from loginless.shared.web.idempotency import IdempotentRequests

# The worker and the event contract need FastStream and Kafka clients, the API process does not.
if TYPE_CHECKING:
    from loginless.shared.worker import ServiceWorker, WorkerRuntime

MIGRATIONS = Path(__file__).parent / "migrations"
TEMPLATES = Path(__file__).parent / "templates"
SETTINGS = PaymentsSettings
DESCRIPTION = "Invoices, pay links, partial payments, refunds and credit notes."
PUBLISHED_EVENTS = (
    events.InvoiceCreated, events.InvoiceIssued, events.InvoiceLinkIssued, events.CreditNoteIssued,
    events.PaymentStarted, events.PaymentCheckoutOpened, events.PaymentFailed, events.PaymentFlagged,
    events.PaymentReceived, events.PaymentReversed,
    events.PaymentRefunded, events.InvoicePaid,
)


def projections(store: EventStore, settings: PaymentsSettings) -> Projections:
    """Every read model of the service (``python -m loginless.payments projections rebuild`` replays them)."""
    return Projections(store, [InvoiceRows(settings.schema)])


def payments_context(store: EventStore, settings: PaymentsSettings, *, links: LinksApi,
                     provider: PaymentProvider | None = None, clock: Clock = utc_now) -> PaymentsContext:
    read_models = projections(store, settings)
    return PaymentsContext(settings=settings, store=store, projections=read_models,
                           invoices=DeciderRunner(store, domain.INVOICE, read_models),
                           queries=InvoiceQueries(settings.schema), jobs=Jobs(store.pool, settings.schema),
                           links=links, idempotency=IdempotentRequests(store.pool, settings.schema),
                           provider=provider or provider_for(settings), clock=clock)


def provider_for(settings: PaymentsSettings) -> PaymentProvider:
    """The payment provider of the settings (``PAYMENTS_PROVIDER``): the built-in test provider, or Stripe."""
    if settings.provider == "stripe":
        api = StripeSdkApi(settings.stripe_secret_key.get_secret_value(), api_base=settings.stripe_api_base)
        return StripeProvider(api, webhook_secret=settings.stripe_webhook_secret.get_secret_value(),
                              public_url=settings.public_url, checkout_minutes=settings.stripe_checkout_minutes)
    secret = settings.test_provider_secret.get_secret_value().encode() or secrets.token_bytes(32)
    return TestProvider(secret)


@dataclass(frozen=True)
class PaymentsApp:
    """The API process's context."""

    payments: PaymentsContext
    guest_pages: GuestPages
    api_keys: ApiKeyVerifier
    guest_assertions: AssertionVerifier | None


def create_app(settings: PaymentsSettings, *, links: LinksApi | None = None, api_keys: ApiKeyVerifier | None = None,
               provider: PaymentProvider | None = None, clock: Clock = utc_now) -> Litestar:
    """The HTTP app. ``links``, ``api_keys``, ``provider`` and ``clock`` replace the real ones (tests give
    fakes, or a test provider whose secret they know)."""

    @asynccontextmanager
    async def context(runtime: ServiceRuntime) -> AsyncIterator[PaymentsApp]:
        async with links_held(settings, links) as links_api:
            payments = payments_context(runtime.store, settings, links=links_api, provider=provider, clock=clock)
            yield PaymentsApp(payments=payments, guest_pages=GuestPages(payments),
                              api_keys=api_keys or LinksApiKeys(links_api),
                              guest_assertions=settings.guest_assertions("payments"))

    return create_service_app(settings, route_handlers=[*ROUTE_HANDLERS, GuestController, *ASSET_ROUTES],
                              migrations_dir=MIGRATIONS, description=DESCRIPTION, context=context,
                              context_fields=["payments", "guest_pages"],
                              template_config=guest_template_config(TEMPLATES, catalogs=CATALOGS))


def create_worker(settings: PaymentsSettings, *, links: LinksApi | None = None,
                  provider: PaymentProvider | None = None, clock: Clock = utc_now) -> ServiceWorker[PaymentsContext]:
    """The worker: the durable jobs (pay links), and the sweep that asks the provider about payments whose
    webhook never came."""
    from loginless.shared.worker import ServiceWorker, every

    @asynccontextmanager
    async def context(runtime: WorkerRuntime) -> AsyncIterator[PaymentsContext]:
        async with links_held(settings, links) as links_api:
            yield payments_context(runtime.store, settings, links=links_api, provider=provider, clock=clock)

    return ServiceWorker(settings, context=context, migrations_dir=MIGRATIONS,
                         tasks=[every(settings.poll_seconds, work_through_jobs),
                                every(settings.sweep_seconds, sweep_pending)])


def asyncapi_document() -> dict:
    from faststream.kafka import KafkaBroker

    from loginless.shared.messaging.contract import declare_event_publisher
    from loginless.shared.runtime import asyncapi_for

    broker = KafkaBroker()
    declare_event_publisher(broker, "payments", PUBLISHED_EVENTS)
    return asyncapi_for("payments", broker, description=DESCRIPTION)
