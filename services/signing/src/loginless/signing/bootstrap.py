"""The one wiring point of the signing service: its context, its HTTP app, its worker and its event contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from litestar import Litestar

from loginless.documents.client import DocumentsApi, documents_held
from loginless.events.payloads import signing as events
from loginless.links.client import LinksApi, LinksApiKeys, links_held
from loginless.shared.blobs import BlobStore
from loginless.shared.cipher import DataCipher
from loginless.shared.clock import Clock, utc_now
from loginless.shared.eventstore import DeciderRunner, EventStore, Jobs, Projections
from loginless.shared.guest.pages import guest_template_config
from loginless.shared.web import ServiceRuntime, create_service_app
from loginless.shared.web.assertion import AssertionVerifier
from loginless.shared.web.auth import ApiKeyVerifier
from loginless.shared.web.idempotency import IdempotentRequests
from loginless.signing import domain
from loginless.signing.guest import ASSET_ROUTES, GuestController, GuestPages
from loginless.signing.handlers import SigningContext, expire_due, work_through_jobs
from loginless.signing.http import ROUTE_HANDLERS
from loginless.signing.i18n import CATALOGS
from loginless.signing.ports import PdfEngine
from loginless.signing.projections import EnvelopeQueries, EnvelopeRows
from loginless.signing.seals import TenantSeals
from loginless.signing.settings import SigningSettings

# The worker and the event contract need FastStream and Kafka clients, the API process does not.
if TYPE_CHECKING:
    from loginless.shared.worker import ServiceWorker, WorkerRuntime

MIGRATIONS = Path(__file__).parent / "migrations"
TEMPLATES = Path(__file__).parent / "templates"
SETTINGS = SigningSettings
DESCRIPTION = "Envelopes of PDFs signed through links, in order or in parallel; sealed PDFs and audit certificates."
PUBLISHED_EVENTS = (
    events.EnvelopeCreated, events.EnvelopeSent, events.SigningTurnStarted, events.RecipientLinkIssued,
    events.RecipientViewed, events.ConsentGiven, events.DocumentSigned, events.SigningDeclined,
    events.EnvelopeVoided, events.EnvelopeExpired, events.EnvelopeCompleted, events.EnvelopeRecordSealed,
    events.SignedDocumentsFiled, events.TemplateCreated, events.TemplateDeleted, events.SealChanged,
)


def projections(store: EventStore, settings: SigningSettings) -> Projections:
    """Every read model of the service (``python -m loginless.signing projections rebuild`` replays them)."""
    return Projections(store, [EnvelopeRows(settings.schema)])


def blobs_for(settings: SigningSettings) -> BlobStore:
    return BlobStore(settings.s3_endpoint, access_key=settings.s3_access_key,
                     secret_key=settings.s3_secret_key.get_secret_value(), bucket=settings.s3_bucket,
                     region=settings.s3_region)


def signing_context(store: EventStore, settings: SigningSettings, *, links: LinksApi, documents: DocumentsApi,
                    pdf: PdfEngine, blobs: BlobStore, clock: Clock = utc_now) -> SigningContext:
    read_models = projections(store, settings)
    return SigningContext(
        settings=settings, store=store, projections=read_models,
        envelopes=DeciderRunner(store, domain.ENVELOPE, read_models),
        templates=DeciderRunner(store, domain.TEMPLATE, read_models),
        seal_changes=DeciderRunner(store, domain.SEAL, read_models),
        seals=TenantSeals(settings.schema, _cipher(settings)),
        queries=EnvelopeQueries(settings.schema),
        jobs=Jobs(store.pool, settings.schema), blobs=blobs, pdf=pdf, links=links, documents=documents,
        idempotency=IdempotentRequests(store.pool, settings.schema), clock=clock)


def _cipher(settings: SigningSettings) -> DataCipher | None:
    key = settings.data_key.get_secret_value()
    return DataCipher.from_setting(key, name="SIGNING_DATA_KEY") if key else None



def _engine(settings: SigningSettings, given: PdfEngine | None, *, need_seal: bool) -> PdfEngine:
    from loginless.signing.engine import PdfWork

    return given if given is not None else PdfWork.from_settings(settings, need_seal=need_seal)


@dataclass(frozen=True)
class SigningApp:
    """The API process's context."""

    signing: SigningContext
    guest_pages: GuestPages
    api_keys: ApiKeyVerifier
    guest_assertions: AssertionVerifier | None


def create_app(settings: SigningSettings, *, links: LinksApi | None = None, documents: DocumentsApi | None = None,
               pdf: PdfEngine | None = None, api_keys: ApiKeyVerifier | None = None,
               clock: Clock = utc_now) -> Litestar:
    """The HTTP app. ``links``, ``documents``, ``pdf``, ``api_keys`` and ``clock`` replace the real ones (tests
    give fakes)."""

    @asynccontextmanager
    async def context(runtime: ServiceRuntime) -> AsyncIterator[SigningApp]:
        blobs = blobs_for(settings)
        await blobs.ensure_bucket()
        async with links_held(settings, links) as links_api, documents_held(settings, documents) as documents_api:
            signing = signing_context(runtime.store, settings, links=links_api, documents=documents_api,
                                      pdf=_engine(settings, pdf, need_seal=False), blobs=blobs, clock=clock)
            yield SigningApp(signing=signing, guest_pages=GuestPages(signing),
                             api_keys=api_keys or LinksApiKeys(links_api),
                             guest_assertions=settings.guest_assertions("signing"))

    return create_service_app(settings, route_handlers=[*ROUTE_HANDLERS, GuestController, *ASSET_ROUTES],
                              migrations_dir=MIGRATIONS, description=DESCRIPTION, context=context,
                              context_fields=["signing", "guest_pages"],
                              template_config=guest_template_config(TEMPLATES, catalogs=CATALOGS))


def create_worker(settings: SigningSettings, *, links: LinksApi | None = None, documents: DocumentsApi | None = None,
                  pdf: PdfEngine | None = None, clock: Clock = utc_now) -> ServiceWorker[SigningContext]:
    from loginless.shared.worker import ServiceWorker, every

    @asynccontextmanager
    async def context(runtime: WorkerRuntime) -> AsyncIterator[SigningContext]:
        blobs = blobs_for(settings)
        await blobs.ensure_bucket()
        async with links_held(settings, links) as links_api, documents_held(settings, documents) as documents_api:
            yield signing_context(runtime.store, settings, links=links_api, documents=documents_api,
                                  pdf=_engine(settings, pdf, need_seal=True), blobs=blobs, clock=clock)

    return ServiceWorker(settings, context=context, migrations_dir=MIGRATIONS,
                         tasks=[every(settings.poll_seconds, work_through_jobs),
                                every(settings.poll_seconds * 10, expire_due)])


def asyncapi_document() -> dict:
    from faststream.kafka import KafkaBroker

    from loginless.shared.messaging.contract import declare_event_publisher
    from loginless.shared.runtime import asyncapi_for

    broker = KafkaBroker()
    declare_event_publisher(broker, "signing", PUBLISHED_EVENTS)
    return asyncapi_for("signing", broker, description=DESCRIPTION)
