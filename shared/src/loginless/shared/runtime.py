"""``python -m loginless.<service> api|worker|migrate|asyncapi|projections rebuild``: the one command line of
every service."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from litestar import Litestar
from pydantic import ValidationError

from loginless.shared.eventstore import EventStore, Projections, migrate
from loginless.shared.settings import ServiceSettings
from loginless.shared.tracing import configure_tracing
from loginless.shared.web.admin import serve_api
from loginless.shared.web.logging import configure_logging
from loginless.shared.web.server import ProblemRefusingHttpToolsProtocol

if TYPE_CHECKING:  # the worker and the Kafka client are loaded only by the roles that use them
    from faststream.kafka import KafkaBroker

    from loginless.shared.worker import ServiceWorker


class ServiceBootstrap(Protocol):
    """What a service's ``bootstrap`` module provides, the one wiring point (docs/anatomy-of-a-service.md). An
    event-sourced service's also has ``projections(store, settings)``, its read models."""

    SETTINGS: type[ServiceSettings]
    MIGRATIONS: Path

    def create_app(self, settings: Any) -> Litestar: ...  # noqa: ANN401 -- each service takes its own settings

    def create_worker(self, settings: Any) -> ServiceWorker: ...  # noqa: ANN401

    def asyncapi_document(self) -> dict: ...


# The commands every service has, and what each does (``--help`` says it without reading any setting).
COMMANDS = {
    "api": "serve the HTTP API (settings from <SERVICE>_* environment variables)",
    "worker": "run the outbox relay and the consumers",
    "migrate": "apply the database migrations and exit",
    "asyncapi": "print the AsyncAPI document of the service's events (needs no settings)",
    "projections": "'projections rebuild': rebuild the read models from the event store",
}


def run_service(
    bootstrap: ServiceBootstrap,
    *,
    extra_commands: dict[str, Callable[[Callable[[], ServiceSettings], list[str]], None]] | None = None,
    argv: list[str] | None = None,
) -> None:
    """Dispatch to a role. ``extra_commands`` are service-specific; each gets a way to read the settings (after it
    has parsed its own arguments, so that its ``--help`` needs none) and its arguments."""
    extra_commands = extra_commands or {}
    service = bootstrap.SETTINGS.service_name
    parser = argparse.ArgumentParser(prog=f"python -m loginless.{service}",
                                     description=f"The {service} service of loginless.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in COMMANDS.items():
        command_parser = commands.add_parser(name, help=text, description=text)
        if name == "projections":
            command_parser.add_argument("action", choices=["rebuild"])
    for name, command_function in extra_commands.items():  # listed here; each parses its own arguments
        commands.add_parser(name, help=(command_function.__doc__ or "").strip().split("\n")[0])
    arguments = sys.argv[1:] if argv is None else argv
    if arguments and arguments[0] in extra_commands:  # its own parser first (and --help), then the settings
        extra_commands[arguments[0]](bootstrap.SETTINGS, arguments[1:])
        return
    parsed = parser.parse_args(arguments)
    command = parsed.command
    migrations_dir: Path = bootstrap.MIGRATIONS

    if command == "asyncapi":  # needs no settings: the document describes the code, not a deployment
        print(json.dumps(bootstrap.asyncapi_document(), indent=2, sort_keys=True))
        return

    try:
        settings = bootstrap.SETTINGS()
    except ValidationError as error:  # a deployment's mistake, not a bug: which settings, without a traceback
        wrong = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors())
        raise SystemExit(f"{bootstrap.SETTINGS.service_name}: cannot start: {wrong}") from None
    configure_logging(as_json=settings.log_json, level=settings.log_level)
    if command in ("api", "worker"):
        configure_tracing(settings.service_name, command)
    if command == "api":
        serve_api(
            bootstrap.create_app(settings),
            settings,
            log_config=None,
            access_log=False,  # the app logs each request itself, without query strings
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
            proxy_headers=False,
            http=ProblemRefusingHttpToolsProtocol,  # its own 400 for unreadable requests, as a problem with our headers
            ws="none",  # no service serves WebSockets; "auto" would load the websockets library (~2.5 MB resident)
        )
    elif command == "worker":
        from loginless.shared.worker import run_worker

        run_worker(bootstrap.create_worker(settings))
    elif command == "migrate":
        asyncio.run(_migrate(settings, migrations_dir))
    elif command == "projections":
        read_models = getattr(bootstrap, "projections", lambda store, _: Projections(store))
        asyncio.run(_rebuild_projections(settings, migrations_dir, read_models))


async def _migrate(settings: ServiceSettings, migrations_dir: Path) -> None:
    import asyncpg

    connection = await asyncpg.connect(settings.database_url)
    try:
        applied = await migrate(connection, settings.schema, [migrations_dir])
        print(f"{settings.service_name}: applied {len(applied)} migration(s)")
    finally:
        await connection.close()


async def _rebuild_projections(settings: ServiceSettings, migrations_dir: Path,
                               projections: Callable[[EventStore, ServiceSettings], Projections]) -> None:
    """Drop every read model of the service and replay its event store into it (safe while the service runs:
    readers see the old rows until the new ones commit, and writers wait)."""
    import asyncpg

    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as connection:
            await migrate(connection, settings.schema, [migrations_dir])
        store = EventStore(pool, schema=settings.schema, topic=settings.events_topic)
        replayed = await projections(store, settings).rebuild()
        print(f"{settings.service_name}: read models rebuilt from {replayed} event(s)")
    finally:
        await pool.close()


def asyncapi_for(service: str, broker: KafkaBroker, *, description: str) -> dict:
    from faststream.specification import AsyncAPI

    spec = AsyncAPI(broker, title=f"loginless {service} events", version="1.0.0", description=description)
    return spec.to_specification().to_jsonable()
