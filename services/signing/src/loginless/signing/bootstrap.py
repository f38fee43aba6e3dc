"""The one wiring point of the signing service: its HTTP app, its worker and its event contract."""

from pathlib import Path

from faststream.kafka import KafkaBroker
from litestar import Litestar

from loginless.events.payloads import signing as events
from loginless.links.client import LinksApi, linked_service_context
from loginless.shared.guest.pages import guest_template_config
from loginless.shared.guest.placeholder import placeholder_pages
from loginless.shared.messaging.contract import declare_event_publisher
from loginless.shared.runtime import asyncapi_for
from loginless.shared.web import create_service_app
from loginless.shared.worker import ServiceWorker
from loginless.signing.settings import SigningSettings

MIGRATIONS = Path(__file__).parent / "migrations"
SETTINGS = SigningSettings
DESCRIPTION = "Signature requests, signers, the signing ceremony, the signed PDF and its audit certificate."
PUBLISHED_EVENTS = (events.DocumentSigned, events.SigningDeclined)


def create_app(settings: SigningSettings, *, links: LinksApi | None = None) -> Litestar:
    # Until its real guest pages exist, guests get the kit's placeholder page (in their language, with the firm's
    # branding), which also shows that the gateway's assertion arrived and was verified.
    return create_service_app(settings, route_handlers=placeholder_pages("signing"), migrations_dir=MIGRATIONS,
                              description=DESCRIPTION, context=linked_service_context(settings, "signing", links),
                              template_config=guest_template_config())


def create_worker(settings: SigningSettings) -> ServiceWorker:
    return ServiceWorker(settings, migrations_dir=MIGRATIONS)


def asyncapi_document() -> dict:
    broker = KafkaBroker()
    declare_event_publisher(broker, "signing", PUBLISHED_EVENTS)
    return asyncapi_for("signing", broker, description=DESCRIPTION)
