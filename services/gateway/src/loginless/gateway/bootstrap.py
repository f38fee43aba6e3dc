"""The one wiring point of the gateway service: its HTTP app, its worker and its event contract."""

from pathlib import Path

from faststream.kafka import KafkaBroker
from litestar import Litestar

from loginless.gateway.settings import GatewaySettings
from loginless.shared.runtime import asyncapi_for
from loginless.shared.web import create_service_app
from loginless.shared.worker import ServiceWorker

MIGRATIONS = Path(__file__).parent / "migrations"
DESCRIPTION = (
    "The only public entry for guests: validates link tokens, swaps them for a scoped cookie and routes to the "
    "owning service."
)
PUBLISHED_EVENTS = ()  # a pure consumer: it publishes nothing


def create_app(settings: GatewaySettings) -> Litestar:
    return create_service_app(settings, migrations_dir=MIGRATIONS, description=DESCRIPTION)


def create_worker(settings: GatewaySettings) -> ServiceWorker:
    return ServiceWorker(settings, migrations_dir=MIGRATIONS)


def asyncapi_document() -> dict:
    broker = KafkaBroker()
    return asyncapi_for("gateway", broker, description=DESCRIPTION)
