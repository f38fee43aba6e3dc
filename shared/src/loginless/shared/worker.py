"""The worker process of a service: the outbox relay plus the service's Kafka consumers.

API processes never touch Kafka for writes; all publishing happens here, from the outbox.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import structlog
from faststream.kafka import KafkaBroker

from loginless.shared.eventstore import EventStore, KafkaSink, OutboxRelay
from loginless.shared.messaging import InboxConsumer, build_broker
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.app import migrate_when_reachable, open_pool

log = structlog.get_logger(__name__)

ConsumerFactory = Callable[[EventStore, ServiceSettings], InboxConsumer]
# A long-running job of the worker besides relay and consumers (e.g. delivering e-mail); it runs until cancelled.
BackgroundTask = Callable[[EventStore, ServiceSettings], Coroutine[Any, Any, None]]


class ServiceWorker:
    def __init__(self, settings: ServiceSettings, *, consumers: Sequence[ConsumerFactory] = (),
                 tasks: Sequence[BackgroundTask] = (), migrations_dir: Path | None = None) -> None:
        self.settings = settings
        self.consumer_factories = consumers
        self.task_factories = tasks
        self.migrations_dir = migrations_dir

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        pool = await open_pool(settings)
        broker: KafkaBroker | None = None
        try:
            await migrate_when_reachable(pool, settings, self.migrations_dir)
            store = EventStore(pool, schema=settings.schema, topic=settings.events_topic)
            relay = OutboxRelay(
                settings.database_url, schema=settings.schema,
                sink=KafkaSink(settings.kafka_bootstrap_servers, client_id=f"{settings.service_name}-relay"),
            )
            tasks = [asyncio.create_task(relay.run(), name="outbox-relay")]
            tasks += [asyncio.create_task(self._supervise(factory, store), name=getattr(factory, "__name__", "task"))
                      for factory in self.task_factories]
            if self.consumer_factories:
                broker = build_broker(settings.kafka_bootstrap_servers, client_id=f"{settings.service_name}-worker")
                for factory in self.consumer_factories:
                    factory(store, settings).subscribe(broker)
                tasks.append(asyncio.create_task(self._start_broker(broker, stop), name="consumers"))
            log.info("worker started", service=settings.service_name)
            await stop.wait()
            log.info("worker stopping", service=settings.service_name)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=settings.shutdown_grace_seconds)
        finally:
            if broker is not None:
                await broker.stop()
            await pool.close()

    async def _supervise(self, factory: BackgroundTask, store: EventStore) -> None:
        """Run a background task for the life of the worker: if it fails, log it and start it again."""
        delay = 1.0
        while True:
            try:
                await factory(store, self.settings)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed; restarting", task=getattr(factory, "__name__", "task"),
                              retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    async def _start_broker(self, broker: KafkaBroker, stop: asyncio.Event) -> None:
        # The broker may be down when the worker starts: keep trying rather than crash-looping.
        delay = 0.5
        while not stop.is_set():
            try:
                await broker.start()
                return
            except Exception as error:
                log.warning("waiting for Kafka", error=repr(error), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)


def run_worker(worker: ServiceWorker) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully within the configured grace period."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)

    asyncio.run(main())
