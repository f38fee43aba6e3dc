"""The one wiring point of the gateway service: its HTTP app, its worker and its event contract."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
from litestar import Litestar
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig

from loginless.gateway.edge import guard_edge
from loginless.gateway.forward_auth import with_forward_auth
from loginless.gateway.guest_cookie import Grant, GuestCookies
from loginless.gateway.http import ROUTE_HANDLERS, refine_openapi
from loginless.gateway.i18n import template_environment
from loginless.gateway.proxy import GuestProxy
from loginless.gateway.proxy_lane import with_proxy_lane
from loginless.gateway.rate_limit import InvalidTokenLimiter
from loginless.gateway.read_model import LinkStateFreshness, LinkStateStore
from loginless.gateway.runtime import GatewayRuntime
from loginless.gateway.settings import GatewaySettings
from loginless.links.client import LinksApi, links_held
from loginless.shared.web import ServiceRuntime, create_service_app
from loginless.shared.web.access_log import AccessLog, BatchedOutput
from loginless.shared.web.assertion import AssertionSigner

if TYPE_CHECKING:
    from loginless.shared.worker import ServiceWorker

MIGRATIONS = Path(__file__).parent / "migrations"
SETTINGS = GatewaySettings
DESCRIPTION = (
    "The only public entry for guests: validates link tokens, swaps them for a scoped cookie and routes to the "
    "owning service."
)
PUBLISHED_EVENTS = ()  # a pure consumer: it publishes nothing


class GatewayMisconfigured(RuntimeError):
    """A setting the gateway cannot run safely without is missing."""


def create_app(
    settings: GatewaySettings,
    *,
    rate_limit_clock: Callable[[], float] = time.time,
    links: LinksApi | None = None,
) -> Litestar:
    """The gateway's HTTP app; tests pass a ``rate_limit_clock`` to move the limiter's time without sleeping, and
    may give ``links`` (the links service's in-memory fake)."""
    if not settings.assertion_private_key.get_secret_value():
        raise GatewayMisconfigured("GATEWAY_ASSERTION_PRIVATE_KEY is required: services trust only signed guests")
    signer = AssertionSigner(settings.assertion_private_key.get_secret_value())
    cookies = GuestCookies(settings.cookie_secret.get_secret_value(), secure=settings.secure_cookies,
                           previous_secrets=tuple(old.get_secret_value() for old in settings.previous_cookie_secrets))
    # Written in batches (access_log.py); the last batch when the server stops: uvicorn ends the process by
    # re-raising the stop signal, so exit handlers would not run.
    access_output = BatchedOutput()

    @asynccontextmanager
    async def context(runtime: ServiceRuntime) -> AsyncIterator[GatewayRuntime]:
        async with links_held(settings, links) as links_api:
            read_pool = await open_read_pool(settings)
            gateway = GatewayRuntime(
                settings=settings,
                links=links_api,
                link_states=LinkStateStore(read_pool, schema=settings.schema,
                                           cache_seconds=settings.link_state_cache_seconds),
                link_state_freshness=LinkStateFreshness(
                    read_pool, schema=settings.schema, max_staleness_seconds=settings.link_state_max_staleness_seconds,
                    cache_seconds=settings.link_state_cache_seconds),
                proxy=GuestProxy(settings.routes, signer, public_url=settings.public_url,
                                 connect_timeout=settings.upstream_connect_timeout_seconds,
                                 io_timeout=settings.upstream_io_timeout_seconds,
                                 max_connections=settings.upstream_max_connections,
                                 device_proof=lambda link_id: cookies.issue(
                                     link_id, Grant.DEVICE, now=time.time(),
                                     lifetime_seconds=settings.device_proof_seconds).to_encoded_header()),
                cookies=cookies,
                # Counted in PostgreSQL, so every replica shares the one limit (rate_limit.py).
                invalid_tokens=InvalidTokenLimiter(
                    read_pool, schema=settings.schema, limit=settings.invalid_token_limit,
                    window_seconds=settings.invalid_token_window_seconds, clock=rate_limit_clock),
            )
            try:
                yield gateway
            finally:
                access_output.flush()
                await gateway.proxy.close()
                await gateway.link_states.pool.close()

    app = create_service_app(
        settings,
        route_handlers=ROUTE_HANDLERS,
        migrations_dir=MIGRATIONS,
        description=DESCRIPTION,
        context=context,
        context_dependency="gateway",
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(template_environment())),
        refine_openapi=refine_openapi,
    )
    # Outside Litestar's routing, so that unknown routes, errors and health checks get the headers too, and no
    # part of Litestar (routing, logs, metrics, error pages) ever sees a link token. Inside the edge, admitted
    # guest requests take the proxy lane past Litestar. create_service_app takes no such outer middleware, hence
    # the wrap of its ASGI handler.
    access_log = AccessLog(access_output, level=settings.log_level, as_json=settings.log_json)
    with_proxy_lane(app, access_log)
    # Forward-auth answers too (when enabled): the admission of the proxy lane, for a proxy in front.
    with_forward_auth(app, access_log)
    app.asgi_handler = guard_edge(app.asgi_handler, content_security_policy=settings.content_security_policy)
    return app


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to reset: read-model reads leave no session state (no locks, cursors, LISTEN or SET)."""


async def open_read_pool(settings: GatewaySettings) -> asyncpg.Pool:
    """The pool every guest request reads the link state through.

    Like the shared pool (starts empty, replaces broken connections), but asyncpg's default reset of a released
    connection is one more round trip per request, which the hot path of the gateway cannot afford.
    """
    return await asyncpg.create_pool(
        settings.database_url, min_size=0, max_size=settings.database_pool_size, timeout=5, command_timeout=15,
        max_inactive_connection_lifetime=60, reset=_keep_session,
    )


# The worker and the event contract load the Kafka client; the API process never needs it (lighter by ~12 MB).


def create_worker(settings: GatewaySettings) -> ServiceWorker:
    from loginless.gateway.consumers import LinkStateFeed
    from loginless.shared.worker import ServiceWorker, WorkerRuntime, every

    async def forget_old_attempts(runtime: WorkerRuntime) -> None:
        await InvalidTokenLimiter(runtime.pool, schema=settings.schema, limit=settings.invalid_token_limit,
                                  window_seconds=settings.invalid_token_window_seconds).prune()

    feed = LinkStateFeed()
    return ServiceWorker(settings, consumers=[feed.consumer], migrations_dir=MIGRATIONS, tasks=[
        feed.report_freshness, every(settings.invalid_token_window_seconds / 2, forget_old_attempts)])


def asyncapi_document() -> dict:
    from faststream.kafka import KafkaBroker

    from loginless.gateway.consumers import link_state_consumer
    from loginless.shared.eventstore import EventStore
    from loginless.shared.runtime import asyncapi_for
    from loginless.shared.worker import WorkerRuntime

    broker = KafkaBroker()
    # Declares the subscription only; no settings or database are needed to describe it.
    settings = GatewaySettings.model_construct(database_url="postgresql://unused")
    store = EventStore(None, schema=settings.schema, topic=settings.events_topic)  # type: ignore[arg-type]
    link_state_consumer(WorkerRuntime(settings, None, store)).subscribe(broker)  # type: ignore[arg-type]
    return asyncapi_for("gateway", broker, description=DESCRIPTION)
