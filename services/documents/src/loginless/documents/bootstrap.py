"""The one wiring point of the documents service: its HTTP app, its worker and its event contract."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig

from loginless.documents.guest import GuestController, GuestPages, static_files_router
from loginless.documents.handlers import Documents
from loginless.documents.http import STAFF_CONTROLLERS
from loginless.documents.idempotency import IdempotencyKeys
from loginless.documents.ports import HttpLinks, Links, PassThroughScanner, Scanner
from loginless.documents.repository import Repository
from loginless.documents.settings import DocumentsSettings
from loginless.documents.storage import DocumentStorage
from loginless.documents.uploads import ResumableUploads
from loginless.shared.events.payloads import documents as events
from loginless.shared.eventstore import EventStore
from loginless.shared.web import create_service_app
from loginless.shared.web.app import ApiKeyVerifierFactory, ServiceRuntime

# The worker and the event contract need FastStream and Kafka clients, the API process does not: they are imported
# where they are used, so that an API process never loads them.
if TYPE_CHECKING:
    from loginless.shared.worker import ServiceWorker

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
TEMPLATES = Path(__file__).parent / "templates"
DESCRIPTION = "Documents, client and guest accounts, folders, shares for viewing and download, upload requests."
PUBLISHED_EVENTS = (
    events.ClientAccountCreated, events.ClientInvitedToPortal, events.FolderCreated, events.DocumentAdded,
    events.FileUploaded, events.DocumentShared, events.ShareRevoked, events.DocumentViewed,
    events.DocumentDownloaded, events.UploadRequestCreated, events.UploadRequestRevoked,
)


def storage_for(settings: DocumentsSettings) -> DocumentStorage:
    return DocumentStorage(settings.s3_endpoint, access_key=settings.s3_access_key,
                           secret_key=settings.s3_secret_key.get_secret_value(), bucket=settings.s3_bucket,
                           region=settings.s3_region, public_endpoint=settings.s3_guest_endpoint)


def create_app(settings: DocumentsSettings, *, links: Links | None = None, scanner: Scanner | None = None,
               api_key_verifier: ApiKeyVerifierFactory | None = None) -> Litestar:
    """The HTTP app. ``links``, ``scanner`` and ``api_key_verifier`` replace the real adapters (tests use fakes)."""

    async def start(runtime: ServiceRuntime) -> None:
        storage = storage_for(settings)
        await storage.ensure_bucket()
        links_adapter = links or HttpLinks(settings.links_url, settings.internal_api_secret.get_secret_value(),
                                           branding_ttl=settings.branding_cache_seconds)
        documents = Documents(settings=settings, store=runtime.store, storage=storage, links=links_adapter,
                              scanner=scanner or PassThroughScanner(), repo=Repository(settings.schema))
        runtime.extras["documents"] = documents
        runtime.extras["idempotency"] = IdempotencyKeys(runtime.pool, settings.schema)
        runtime.extras["guest_pages"] = GuestPages(documents, ResumableUploads(documents))

    async def stop(runtime: ServiceRuntime) -> None:
        closer = getattr(runtime.extras["documents"].links, "close", None)
        if closer is not None:
            await closer()

    def extra(name: str):  # noqa: ANN202
        def provide(state: State):  # noqa: ANN202
            return state.runtime.extras[name]

        return Provide(provide, sync_to_thread=False)

    return create_service_app(
        settings,
        route_handlers=[*STAFF_CONTROLLERS, GuestController, static_files_router()],
        migrations_dir=MIGRATIONS,
        description=DESCRIPTION,
        dependencies={"documents_app": extra("documents"), "idempotency": extra("idempotency"),
                      "guest_pages": extra("guest_pages")},
        api_key_verifier=api_key_verifier,
        on_startup=[start],
        on_shutdown=[stop],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
    )


async def maintenance(store: EventStore, settings: DocumentsSettings) -> None:
    """Worker task: purge guests' access records past their retention and abort abandoned uploads."""
    storage = storage_for(settings)
    documents = Documents(settings=settings, store=store, storage=storage, links=_NoLinks(),
                          scanner=PassThroughScanner(), repo=Repository(settings.schema))
    uploads = ResumableUploads(documents)
    while True:
        try:
            purged = await documents.purge_access_records()
            abandoned = await uploads.abandon_stale()
            if purged or abandoned:
                log.info("maintenance done", access_records_purged=purged, uploads_abandoned=abandoned)
        except Exception as error:  # a failed round is retried next time; the worker keeps running
            log.warning("maintenance failed", error=repr(error))
        await asyncio.sleep(settings.maintenance_interval_seconds)


class _NoLinks:
    """Maintenance never issues links; calling this is a programming error."""

    def __getattr__(self, name: str):  # noqa: ANN204
        raise RuntimeError(f"maintenance does not use links.{name}")


def create_worker(settings: DocumentsSettings) -> ServiceWorker:
    from loginless.shared.worker import ServiceWorker

    return ServiceWorker(settings, migrations_dir=MIGRATIONS, tasks=[maintenance])


def asyncapi_document() -> dict:
    from faststream.kafka import KafkaBroker

    from loginless.shared.messaging.contract import declare_event_publisher
    from loginless.shared.runtime import asyncapi_for

    broker = KafkaBroker()
    declare_event_publisher(broker, "documents", PUBLISHED_EVENTS)
    return asyncapi_for("documents", broker, description=DESCRIPTION)
