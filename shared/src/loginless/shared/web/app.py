"""``create_service_app``: the one Litestar app factory behind every loginless service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import structlog
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusController
from litestar.plugins.structlog import StructlogPlugin
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from loginless.shared.eventstore import DATABASE_UNAVAILABLE, EventStore, migrate
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.access_log import AccessLog, ImmediateOutput
from loginless.shared.web.assertion import AssertionVerifier
from loginless.shared.web.auth import ApiKeyVerifier, provide_guest, provide_staff
from loginless.shared.web.context import with_request_context
from loginless.shared.web.health import HealthController, KafkaProbe
from loginless.shared.web.input_guard import InputGuard
from loginless.shared.web.logging import structlog_config
from loginless.shared.web.metrics import request_metrics
from loginless.shared.web.openapi import OpenAPIRefinement, TruthfulJsonRenderPlugin
from loginless.shared.web.problems import problem_details_plugin

log = structlog.get_logger(__name__)


class MetricsController(PrometheusController):
    include_in_schema = False


class ServiceContext(Protocol):
    """What a service's ``bootstrap.py`` builds for its handlers at start-up: a dataclass of its own, typed, one
    per process. The kernel reads two of its attributes."""

    api_keys: ApiKeyVerifier | None  # checks staff API keys; None for a service without a staff API
    guest_assertions: AssertionVerifier | None  # checks the gateway's assertions; None without guest pages


@dataclass
class ServiceRuntime:
    """What every request of one service process shares: the kernel's parts and the service's context."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    store: EventStore
    kafka_probe: KafkaProbe
    context: Any = None  # the service's ServiceContext, once built


# Builds the context when the process starts and closes what it holds when it stops.
ContextFactory = Callable[[ServiceRuntime], AbstractAsyncContextManager[ServiceContext]]


async def open_pool(settings: ServiceSettings) -> asyncpg.Pool:
    # min_size=0: the process starts and stays up while PostgreSQL is down; connections are made on demand,
    # and broken ones are replaced, so the service recovers by itself when the database returns.
    return await asyncpg.create_pool(
        settings.database_url, min_size=0, max_size=settings.database_pool_size, timeout=5,
        command_timeout=15, max_inactive_connection_lifetime=60,
    )


async def migrate_when_reachable(pool: asyncpg.Pool, settings: ServiceSettings,
                                 migrations_dir: Path | None, deadline_seconds: float = 60) -> None:
    """Apply migrations, waiting up to ``deadline_seconds`` for the database (it may start after us)."""
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + deadline_seconds
    while True:
        try:
            async with pool.acquire() as connection:
                await migrate(connection, settings.schema, [migrations_dir] if migrations_dir else [])
            return
        except DATABASE_UNAVAILABLE as error:
            if loop.time() > give_up_at:
                raise
            log.warning("waiting for the database", error=repr(error))
            await asyncio.sleep(1)


def create_service_app(
    settings: ServiceSettings,
    *,
    route_handlers: Sequence[ControllerRouterHandler] = (),
    migrations_dir: Path | None = None,
    description: str = "",
    context: ContextFactory | None = None,
    context_dependency: str | None = None,
    context_fields: Sequence[str] = (),
    dependencies: dict[str, Provide] | None = None,
    template_config: TemplateConfig | None = None,
    refine_openapi: OpenAPIRefinement | None = None,
) -> Litestar:
    """The Litestar app of a service. ``context`` builds its typed context; handlers receive it whole as the
    dependency named ``context_dependency``, and each of its ``context_fields`` as a dependency of that name
    (``documents: DocumentsContext`` for ``context_fields=["documents"]``). ``refine_openapi`` changes the
    OpenAPI document where Litestar cannot say the truth (``openapi.py`` adds the kernel's own answers anyway)."""
    name = settings.service_name

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await open_pool(settings)
        probe = KafkaProbe(settings.kafka)
        try:
            await migrate_when_reachable(pool, settings, migrations_dir)
            runtime = ServiceRuntime(settings=settings, pool=pool, kafka_probe=probe,
                                     store=EventStore(pool, schema=settings.schema, topic=settings.events_topic))
            app.state.runtime = runtime
            async with context(runtime) if context is not None else nullcontext() as built:
                runtime.context = built
                release_freed_memory()
                log.info("service started", service=name, port=settings.http_port)
                yield
        finally:
            await probe.close()
            await pool.close()

    def provide_runtime(state: State) -> ServiceRuntime:
        return state.runtime

    def provide_context(state: State) -> Any:
        return state.runtime.context

    def provide_store(state: State) -> EventStore:
        return state.runtime.store

    def provider_of(field: str) -> Callable[[State], Any]:
        def provide_field(state: State) -> Any:
            return getattr(state.runtime.context, field)
        return provide_field

    context_dependencies = {field: Provide(provider_of(field), sync_to_thread=False) for field in context_fields}
    if context_dependency:
        context_dependencies[context_dependency] = Provide(provide_context, sync_to_thread=False)
    app = Litestar(
        route_handlers=[HealthController, MetricsController, *route_handlers],
        lifespan=[lifespan],
        # After routing: they need the route (its template for the metrics, its parameters for the guard).
        middleware=[request_metrics(name), InputGuard],
        plugins=[
            StructlogPlugin(structlog_config(as_json=settings.log_json, level=settings.log_level)),
            problem_details_plugin(),
        ],
        dependencies={
            "runtime": Provide(provide_runtime, sync_to_thread=False),
            "store": Provide(provide_store, sync_to_thread=False),
            "staff": Provide(provide_staff),
            "guest": Provide(provide_guest, sync_to_thread=False),
            **context_dependencies,
            **(dependencies or {}),
        },
        template_config=template_config,
        openapi_config=OpenAPIConfig(
            title=f"loginless {name}",
            version="1.0.0",
            description=description or f"The {name} service of loginless.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), TruthfulJsonRenderPlugin(refine_openapi)],
            components=Components(security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer",
                                         description="A tenant's API key: Authorization: Bearer <key>"),
            }),
        ),
    )
    # Around everything Litestar does, so that every answer has its ids and its line.
    with_request_context(app, AccessLog(ImmediateOutput(), level=settings.log_level, as_json=settings.log_json))
    return app


def release_freed_memory() -> None:
    """Hand memory freed during start-up back to the system.

    Loading a thousand modules, building the app and checking its dependencies allocate and free several MB that
    glibc keeps in its heaps for later; an idle replica need not hold them (about 3 MB in the documents service).
    ``malloc_trim`` is glibc's; with another C library this does nothing.
    """
    import ctypes

    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)
