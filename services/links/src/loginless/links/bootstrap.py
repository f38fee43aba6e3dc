"""The one wiring point of the links service: its HTTP app, its worker and its event contract."""

from pathlib import Path

from faststream.kafka import KafkaBroker
from litestar import Litestar

from loginless.links.settings import LinksSettings
from loginless.shared.events.payloads import links as events
from loginless.shared.messaging.contract import declare_event_publisher
from loginless.shared.runtime import asyncapi_for
from loginless.shared.web import create_service_app
from loginless.shared.worker import ServiceWorker

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = "Capability links for every guest action: issue, revoke, use and expiry; tenants and API keys."
PUBLISHED_EVENTS = (
    events.LinkIssued, events.LinkRevoked, events.LinkOpened, events.LinkUsed, events.LinkDelivered,
    events.LinkDeliveryFailed, events.LinkVerificationLocked,
)


def create_app(settings: LinksSettings) -> Litestar:
    return create_service_app(settings, migrations_dir=MIGRATIONS, description=DESCRIPTION)


def create_worker(settings: LinksSettings) -> ServiceWorker:
    return ServiceWorker(settings, migrations_dir=MIGRATIONS)


def asyncapi_document() -> dict:
    broker = KafkaBroker()
    declare_event_publisher(broker, "links", PUBLISHED_EVENTS)
    return asyncapi_for("links", broker, description=DESCRIPTION)
