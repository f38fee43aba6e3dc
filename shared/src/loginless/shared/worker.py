"""The worker process of a service: the outbox relay, the service's Kafka consumers and its background jobs.

API processes never touch Kafka for writes; all publishing happens here, from the outbox. Every worker also keeps
the kernel's tables tidy: published outbox rows, processed inbox rows and idempotency keys past their retention.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from loginless.shared.eventstore import EventStore, KafkaSink, MessageSink, OutboxRelay, OutboxRow
from loginless.shared.messaging import InboxConsumer, build_broker
from loginless.shared.messaging.lag import report_consumer_lag
from loginless.shared.messaging.topics import ensure_topics
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.admin import worker_admin_server
from loginless.shared.web.app import migrate_when_reachable, open_pool
from loginless.shared.web.health import KafkaProbe
from loginless.shared.web.idempotency import IdempotentRequests

log = structlog.get_logger(__name__)

Context = TypeVar("Context")


@dataclass(frozen=True)
class WorkerRuntime:
    """The kernel's parts of a worker, from which the service builds its context."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    store: EventStore


# A consumer of other services' events, or a long-running job (e.g. delivering e-mail) that runs until cancelled;
# both are made from the service's context.
ConsumerFactory = Callable[[Context], InboxConsumer]
BackgroundTask = Callable[[Context], Coroutine[Any, Any, None]]
WorkerContextFactory = Callable[[WorkerRuntime], AbstractAsyncContextManager[Context]]


def every(seconds: float, job: Callable[[Context], Awaitable[object]], *, name: str | None = None,
          ) -> BackgroundTask:
    """A background task that runs ``job`` now and then every ``seconds``; a failed round is logged and the next
    one tries again (housekeeping never stops a worker)."""

    async def periodically(context: Context) -> None:
        while True:
            try:
                await job(context)
            except Exception as error:
                log.warning("periodic job failed", job=periodically.__name__, error=repr(error))
            await asyncio.sleep(seconds)

    periodically.__name__ = name or getattr(job, "__name__", "periodic")
    return periodically


class ServiceWorker(Generic[Context]):
    def __init__(self, settings: ServiceSettings, *, context: WorkerContextFactory | None = None,
                 consumers: Sequence[ConsumerFactory] = (), tasks: Sequence[BackgroundTask] = (),
                 migrations_dir: Path | None = None) -> None:
        self.settings = settings
        self.context_factory = context
        self.consumer_factories = consumers
        self.task_factories = tasks
        self.migrations_dir = migrations_dir

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        pool = await open_pool(settings)
        broker: KafkaBroker | None = None
        admin = None
        if settings.admin_port:  # liveness, readiness and metrics of this process, from the start
            kafka_probe = KafkaProbe(settings.kafka)
            admin = worker_admin_server(settings, pool, kafka_probe)
            admin_task = asyncio.create_task(admin.serve(), name="admin-port")
        try:
            await migrate_when_reachable(pool, settings, self.migrations_dir)
            runtime = WorkerRuntime(settings, pool, EventStore(pool, schema=settings.schema,
                                                               topic=settings.events_topic))
            # A service without a context of its own: its tasks and consumers get the kernel's runtime.
            async with (self.context_factory(runtime) if self.context_factory else nullcontext(runtime)) as context:
                consumers = [factory(context) for factory in self.consumer_factories]
                # Every topic this worker writes or reads, before the first publish or subscription: a broker
                # auto-creating one on first use gives it a single partition.
                topics = [settings.events_topic, *(topic for consumer in consumers
                                                   for topic in (consumer.topic, consumer.dead_letter_topic))]
                topics_created = asyncio.create_task(self._create_topics(topics), name="create-topics")
                relay = OutboxRelay(
                    settings.database_url, schema=settings.schema,
                    sink=_AfterTopics(KafkaSink(settings.kafka, client_id=f"{settings.service_name}-relay"),
                                      topics_created),
                )
                tasks = [topics_created,
                         asyncio.create_task(relay.run(), name="outbox-relay"),
                         asyncio.create_task(self._supervise(every(settings.housekeeping_interval_seconds,
                                                                   self._keep_kernel_tables), runtime),
                                             name="kernel-housekeeping")]
                tasks += [asyncio.create_task(self._supervise(factory, context),
                                              name=getattr(factory, "__name__", "task"))
                          for factory in self.task_factories]
                if consumers:
                    broker = build_broker(settings.kafka,
                                          client_id=f"{settings.service_name}-worker")
                    for consumer in consumers:
                        consumer.subscribe(broker)
                    tasks.append(asyncio.create_task(self._after(topics_created, self._start_broker(broker, stop)),
                                                     name="consumers"))
                    # After the topics exist: asking a broker about a missing topic may auto-create it.
                    tasks.append(asyncio.create_task(self._after(topics_created, report_consumer_lag(
                        settings.kafka, [(consumer.group_id, consumer.topic) for consumer in consumers])),
                        name="consumer-lag"))
                log.info("worker started", service=settings.service_name)
                await stop.wait()
                log.info("worker stopping", service=settings.service_name)
                for task in tasks:
                    task.cancel()
                await asyncio.wait(tasks, timeout=settings.shutdown_grace_seconds)
        finally:
            if broker is not None:
                await broker.stop()
            if admin is not None:
                admin.should_exit = True
                await admin_task
                await kafka_probe.close()
            await pool.close()

    async def _create_topics(self, topics: list[str]) -> None:
        """The service's topic, the topics its consumers read and their dead-letter topics, created up front with
        the configured partitions and replication (a broker may refuse to create topics on first use, or create
        them with one partition); retried until Kafka answers, while the relay and the consumers wait. Topics that
        exist already are left as they are."""
        settings, backoff = self.settings, 0.5
        while True:
            try:
                await ensure_topics(settings.kafka, list(dict.fromkeys(topics)), partitions=settings.topic_partitions,
                                    replication_factor=settings.topic_replication_factor)
                return
            except Exception as error:  # Kafka not there yet, or the admin request failed: try again
                log.warning("cannot create the topics yet", topics=topics, error=repr(error), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    @staticmethod
    async def _after(done: asyncio.Task, then: Coroutine[Any, Any, None]) -> None:
        try:
            await asyncio.shield(done)
        except BaseException:
            then.close()
            raise
        await then

    async def _keep_kernel_tables(self, runtime: WorkerRuntime) -> None:
        settings = runtime.settings
        outbox, inbox = await runtime.store.prune(
            outbox_older_than=timedelta(hours=settings.outbox_retention_hours),
            inbox_older_than=timedelta(hours=settings.inbox_retention_hours))
        keys = await IdempotentRequests(runtime.pool, settings.schema).prune()
        if outbox or inbox or keys:
            log.info("kernel tables pruned", outbox=outbox, inbox=inbox, idempotency_keys=keys)

    async def _supervise(self, factory: BackgroundTask, context: Any) -> None:
        """Run a background task for the life of the worker: if it fails, log it and start it again."""
        delay = 1.0
        while True:
            try:
                await factory(context)
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


class _AfterTopics:
    """The relay's sink, which will not start before the worker created its topics. It refuses rather than waits,
    so the relay backs off and keeps reporting the outbox's lag meanwhile (Kafka down is when lag grows)."""

    def __init__(self, sink: MessageSink, topics_created: asyncio.Task) -> None:
        self.sink = sink
        self.topics_created = topics_created

    async def start(self) -> None:
        if not self.topics_created.done():
            raise RuntimeError("the topics are not created yet")
        await self.sink.start()

    async def stop(self) -> None:
        await self.sink.stop()

    async def publish(self, rows: Sequence[OutboxRow]) -> None:
        await self.sink.publish(rows)


def run_worker(worker: ServiceWorker) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully within the configured grace period."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)

    asyncio.run(main())
