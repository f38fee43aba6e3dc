"""The one wiring point of the documents service: its context, its HTTP app, its worker and its event contract."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from litestar import Litestar

from loginless.documents import domain
from loginless.documents.guest import ASSET_ROUTES, GuestController, GuestPages
from loginless.documents.handlers import DocumentsContext, forget_old_accesses
from loginless.documents.http import STAFF_CONTROLLERS, InternalController
from loginless.documents.i18n import CATALOGS
from loginless.documents.ports import PassThroughScanner, Scanner
from loginless.documents.previews import PreviewLimits, PreviewRenderer, ViewOnlyPreviews
from loginless.documents.projections import DocumentRows
from loginless.documents.repository import Repository
from loginless.documents.settings import DocumentsSettings
from loginless.documents.storage import MIN_PART_SIZE, DocumentStorage, PartBuffers
from loginless.documents.uploads import ResumableUploads
from loginless.events.payloads import documents as events
from loginless.links.client import LinksApi, LinksApiKeys, links_held
from loginless.shared.clock import Clock, utc_now
from loginless.shared.eventstore import DeciderRunner, EventStore, Projections
from loginless.shared.guest.pages import guest_template_config
from loginless.shared.web import ServiceRuntime, create_service_app
from loginless.shared.web.assertion import AssertionVerifier
from loginless.shared.web.auth import ApiKeyVerifier
from loginless.shared.web.idempotency import IdempotentRequests

# The worker and the event contract need FastStream and Kafka clients, the API process does not: they are imported
# where they are used, so that an API process never loads them.
if TYPE_CHECKING:
    from loginless.shared.worker import ServiceWorker, WorkerRuntime

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SETTINGS = DocumentsSettings
TEMPLATES = Path(__file__).parent / "templates"
DESCRIPTION = "Documents, client and guest accounts, folders, shares for viewing and download, upload requests."
PUBLISHED_EVENTS = (
    events.ClientAccountCreated, events.ClientInvitedToPortal, events.FolderCreated, events.DocumentAdded,
    events.FileUploaded, events.FileUploadedV2, events.FileRefused, events.SharePrepared, events.DocumentShared,
    events.ShareFailed, events.ShareRevoked, events.RecipientLinkIssued, events.RecipientLinkRevoked,
    events.RecipientLinkExpired, events.DocumentViewed, events.DocumentDownloaded, events.UploadRequestPrepared,
    events.UploadRequestCreated, events.UploadRequestFailed, events.UploadRequestRevoked, events.ShareLocked,
    events.ShareUnlocked,
)


def storage_for(settings: DocumentsSettings) -> DocumentStorage:
    return DocumentStorage(settings.s3_endpoint, access_key=settings.s3_access_key,
                           secret_key=settings.s3_secret_key.get_secret_value(), bucket=settings.s3_bucket,
                           region=settings.s3_region, public_endpoint=settings.s3_guest_endpoint)


def scanner_for(settings: DocumentsSettings) -> Scanner:
    """The antivirus the settings name; without one every file passes (development only: said at start-up)."""
    if settings.scanner == "clamd":
        from loginless.documents.antivirus import ClamdScanner

        return ClamdScanner(settings.clamd_address, timeout_seconds=settings.clamd_timeout_seconds)
    log.warning("no antivirus: guests' uploads are not scanned (DOCUMENTS_SCANNER=none, for development only)")
    return PassThroughScanner()


def with_upcasters(store: EventStore) -> EventStore:
    """The kernel's store of this service, reading old event versions as the current ones (``domain.UPCASTERS``)."""
    return EventStore(store.pool, schema=store.schema, topic=store.topic, upcasters=domain.UPCASTERS)


def projections(store: EventStore, settings: DocumentsSettings) -> Projections:
    """Every read model of the service (``python -m loginless.documents projections rebuild`` replays them)."""
    return Projections(with_upcasters(store), [DocumentRows(settings.schema)])


def documents_context(store: EventStore, settings: DocumentsSettings, *, links: LinksApi, storage: DocumentStorage,
                      scanner: Scanner, clock: Clock = utc_now) -> DocumentsContext:
    store = with_upcasters(store)
    read_models = projections(store, settings)

    def runner(decider: domain.Decider) -> DeciderRunner:
        return DeciderRunner(store, decider, read_models)

    return DocumentsContext(
        settings=settings, store=store, projections=read_models, accounts=runner(domain.ACCOUNT),
        folders=runner(domain.FOLDER), documents=runner(domain.DOCUMENT), shares=runner(domain.SHARE),
        upload_requests=runner(domain.UPLOAD_REQUEST), accesses=runner(domain.ACCESS),
        repository=Repository(settings.schema), storage=storage, links=links, scanner=scanner,
        part_buffers=PartBuffers(max(settings.upload_part_size, MIN_PART_SIZE), budget=settings.upload_buffer_bytes,
                                 wait_seconds=settings.upload_buffer_wait_seconds),
        idempotency=IdempotentRequests(store.pool, settings.schema), previews=view_only_previews(settings),
        clock=clock,
    )


def view_only_previews(settings: DocumentsSettings) -> ViewOnlyPreviews:
    limits = PreviewLimits(max_pages=settings.preview_max_pages, concurrency=settings.preview_concurrency)
    # A folder of this process's own: two replicas on one machine never write the same files.
    shared = Path(settings.preview_cache_dir or Path(tempfile.gettempdir()) / "loginless-previews")
    directory = shared / str(os.getpid())
    return ViewOnlyPreviews(PreviewRenderer(limits), directory, keep_seconds=settings.preview_keep_minutes * 60)


@dataclass(frozen=True)
class DocumentsApp:
    """The API process's context."""

    documents: DocumentsContext
    guest_pages: GuestPages
    api_keys: ApiKeyVerifier
    guest_assertions: AssertionVerifier | None


def create_app(settings: DocumentsSettings, *, links: LinksApi | None = None, scanner: Scanner | None = None,
               api_keys: ApiKeyVerifier | None = None, clock: Clock = utc_now) -> Litestar:
    """The HTTP app. ``links``, ``scanner``, ``api_keys`` and ``clock`` replace the real ones (tests give fakes)."""

    @asynccontextmanager
    async def context(runtime: ServiceRuntime) -> AsyncIterator[DocumentsApp]:
        storage = storage_for(settings)
        await storage.ensure_bucket()
        async with links_held(settings, links) as links_api:
            documents = documents_context(runtime.store, settings, links=links_api, storage=storage,
                                          scanner=scanner or scanner_for(settings), clock=clock)
            yield DocumentsApp(documents=documents, guest_pages=GuestPages(documents, ResumableUploads(documents)),
                               api_keys=api_keys or LinksApiKeys(links_api),
                               guest_assertions=settings.guest_assertions("documents"))

    return create_service_app(
        settings,
        route_handlers=[*STAFF_CONTROLLERS, InternalController, GuestController, *ASSET_ROUTES],
        migrations_dir=MIGRATIONS,
        description=DESCRIPTION,
        context=context,
        context_fields=["documents", "guest_pages"],
        template_config=guest_template_config(TEMPLATES, catalogs=CATALOGS),
    )


async def keep_house(ctx: DocumentsContext) -> None:
    """Forget guests' access records past their retention; abort abandoned uploads."""
    forgotten = await forget_old_accesses(ctx)
    abandoned = await ResumableUploads(ctx).abandon_stale()
    if forgotten or abandoned:
        log.info("housekeeping done", access_records_forgotten=forgotten, uploads_abandoned=abandoned)


def create_worker(settings: DocumentsSettings, *, links: LinksApi | None = None) -> ServiceWorker[DocumentsContext]:
    from loginless.documents.consumers import links_events_consumer, payments_events_consumer
    from loginless.documents.handlers import work_through_link_jobs
    from loginless.shared.worker import ServiceWorker, every

    @asynccontextmanager
    async def context(runtime: WorkerRuntime) -> AsyncIterator[DocumentsContext]:
        async with links_held(settings, links) as links_api:
            yield documents_context(runtime.store, settings, links=links_api, storage=storage_for(settings),
                                    scanner=PassThroughScanner())

    return ServiceWorker(settings, context=context, migrations_dir=MIGRATIONS,
                         consumers=[links_events_consumer, payments_events_consumer],
                         tasks=[every(settings.link_job_poll_seconds, work_through_link_jobs),
                                every(settings.maintenance_interval_seconds, keep_house)])


def asyncapi_document() -> dict:
    from faststream.kafka import KafkaBroker

    from loginless.documents.consumers import links_events_consumer, payments_events_consumer
    from loginless.shared.messaging.contract import declare_event_publisher
    from loginless.shared.runtime import asyncapi_for

    broker = KafkaBroker()
    declare_event_publisher(broker, "documents", PUBLISHED_EVENTS)
    # Declares the subscription only; no settings or database are needed to describe it.
    settings = DocumentsSettings.model_construct(database_url="postgresql://unused")
    store = EventStore(None, schema=settings.schema, topic=settings.events_topic)  # type: ignore[arg-type]
    ctx = documents_context(store, settings, links=None, storage=None,  # type: ignore[arg-type]
                            scanner=PassThroughScanner())
    for consumer in (links_events_consumer, payments_events_consumer):
        consumer(ctx).subscribe(broker)
    return asyncapi_for("documents", broker, description=DESCRIPTION)
