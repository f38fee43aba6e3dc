"""The one wiring point of the requests service: its context, its HTTP app, its worker and its event contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from litestar import Litestar

from loginless.documents.client import DocumentsApi, documents_held
from loginless.documents.ports import PassThroughScanner, Scanner
from loginless.events.payloads import requests_ as events
from loginless.links.client import LinksApi, LinksApiKeys, links_held
from loginless.requests import domain
from loginless.requests.guest import ASSET_ROUTES, GuestController, GuestPages
from loginless.requests.handlers import Questionnaires, RequestsContext, remove_abandoned
from loginless.requests.http import STAFF_CONTROLLERS
from loginless.requests.i18n import CATALOGS
from loginless.requests.projections import RequestRows
from loginless.requests.repository import Repository
from loginless.requests.settings import RequestsSettings
from loginless.shared.blobs.store import BlobStore
from loginless.shared.clock import Clock, utc_now
from loginless.shared.eventstore import DeciderRunner, EventStore, Projections
from loginless.shared.eventstore.jobs import Jobs
from loginless.shared.guest.pages import guest_template_config
from loginless.shared.web import ServiceRuntime, create_service_app
from loginless.shared.web.assertion import AssertionVerifier
from loginless.shared.web.auth import ApiKeyVerifier
from loginless.shared.web.idempotency import IdempotentRequests

if TYPE_CHECKING:
    from loginless.shared.worker import ServiceWorker, WorkerRuntime

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SETTINGS = RequestsSettings
TEMPLATES = Path(__file__).parent / "templates"
DESCRIPTION = "Client requests (questionnaires) with the require-login switch; answers and files."
PUBLISHED_EVENTS = (events.TemplateVersionSaved, events.ClientRequestSent, events.RequestLinkIssued,
                    events.RequestOpened, events.ClientRequestCompleted, events.RequestSentBack,
                    events.RequestCancelled, events.ContactAdded)


def blobs_for(settings: RequestsSettings) -> BlobStore:
    return BlobStore(settings.s3_endpoint, access_key=settings.s3_access_key,
                     secret_key=settings.s3_secret_key.get_secret_value(), bucket=settings.s3_bucket,
                     region=settings.s3_region)


def projections(store: EventStore, settings: RequestsSettings) -> Projections:
    """Every read model of the service (``python -m loginless.requests projections rebuild`` replays them)."""
    return Projections(store, [RequestRows(settings.schema)])


def requests_context(store: EventStore, settings: RequestsSettings, *, links: LinksApi, blobs: BlobStore,
                     documents: DocumentsApi, scanner: Scanner | None = None,
                     clock: Clock = utc_now) -> RequestsContext:
    read_models = projections(store, settings)
    templates = DeciderRunner(store, domain.TEMPLATE, read_models)
    return RequestsContext(
        settings=settings, store=store, projections=read_models, templates=templates,
        requests=DeciderRunner(store, domain.REQUEST, read_models),
        contacts=DeciderRunner(store, domain.CONTACT, read_models), repository=Repository(settings.schema),
        links=links, blobs=blobs, scanner=scanner or PassThroughScanner(), documents=documents,
        jobs=Jobs(store.pool, settings.schema), idempotency=IdempotentRequests(store.pool, settings.schema),
        questionnaires=Questionnaires(templates), clock=clock)


@dataclass(frozen=True)
class RequestsApp:
    """The API process's context."""

    requests: RequestsContext
    guest_pages: GuestPages
    api_keys: ApiKeyVerifier
    guest_assertions: AssertionVerifier | None


def create_app(settings: RequestsSettings, *, links: LinksApi | None = None, documents: DocumentsApi | None = None,
               scanner: Scanner | None = None, api_keys: ApiKeyVerifier | None = None,
               clock: Clock = utc_now) -> Litestar:
    """The HTTP app. ``links``, ``documents``, ``scanner``, ``api_keys`` and ``clock`` replace the real ones (tests
    give fakes)."""

    @asynccontextmanager
    async def context(runtime: ServiceRuntime) -> AsyncIterator[RequestsApp]:
        blobs = blobs_for(settings)
        await blobs.ensure_bucket()
        async with links_held(settings, links) as links_api, documents_held(settings, documents) as documents_api:
            ctx = requests_context(runtime.store, settings, links=links_api, blobs=blobs, scanner=scanner,
                                   documents=documents_api, clock=clock)
            yield RequestsApp(requests=ctx, guest_pages=GuestPages(ctx),
                              api_keys=api_keys or LinksApiKeys(links_api),
                              guest_assertions=settings.guest_assertions("requests"))

    return create_service_app(
        settings, route_handlers=[*STAFF_CONTROLLERS, GuestController, *ASSET_ROUTES], migrations_dir=MIGRATIONS,
        description=DESCRIPTION, context=context, context_fields=["requests", "guest_pages"],
        template_config=guest_template_config(TEMPLATES, catalogs=CATALOGS))


async def keep_house(ctx: RequestsContext) -> None:
    """Remove drafts and staged files abandoned past their retention."""
    drafts, files = await remove_abandoned(ctx)
    if drafts or files:
        log.info("housekeeping done", drafts_removed=drafts, staged_files_removed=files)


def create_worker(settings: RequestsSettings, *, links: LinksApi | None = None,
                  documents: DocumentsApi | None = None) -> ServiceWorker[RequestsContext]:
    from loginless.requests.handlers import work_through_jobs
    from loginless.shared.worker import ServiceWorker, every

    @asynccontextmanager
    async def context(runtime: WorkerRuntime) -> AsyncIterator[RequestsContext]:
        async with links_held(settings, links) as links_api, documents_held(settings, documents) as documents_api:
            yield requests_context(runtime.store, settings, links=links_api, blobs=blobs_for(settings),
                                   documents=documents_api)

    return ServiceWorker(settings, context=context, migrations_dir=MIGRATIONS,
                         tasks=[every(settings.job_poll_seconds, work_through_jobs),
                                every(settings.maintenance_interval_seconds, keep_house)])



def asyncapi_document() -> dict:
    from faststream.kafka import KafkaBroker

    from loginless.shared.messaging.contract import declare_event_publisher
    from loginless.shared.runtime import asyncapi_for

    broker = KafkaBroker()
    declare_event_publisher(broker, "requests", PUBLISHED_EVENTS)
    return asyncapi_for("requests", broker, description=DESCRIPTION)
