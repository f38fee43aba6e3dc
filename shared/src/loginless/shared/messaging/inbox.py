"""Consumers of other services' events: exactly-once effects on top of at-least-once delivery.

Each received event is recorded in the consumer's inbox in the same transaction as its effect, so a
redelivered event (after a crash, a rebalance or a relay retry) finds its id there and is skipped. Types the
consumer does not read are skipped without retries, and a handler that keeps failing is retried for about a second
at most before the event goes to a dead-letter topic with the error in the headers (``reading.py`` says why); an
unreachable database is not the event's fault, so that is retried until the database returns, without committing
the offset.
"""

from __future__ import annotations

import asyncio
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime

import asyncpg
import structlog
from aiokafka.errors import IllegalStateError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter
from pydantic import ValidationError

from loginless.events import CloudEvent
from loginless.shared.errors import DependencyUnavailable
from loginless.shared.eventstore import DATABASE_UNAVAILABLE, EventStore, Upcasters, quote_ident
from loginless.shared.messaging.reading import EventReader, Handle, PoisonMessage, RetryPolicy, SkipReason
from loginless.shared.tracing import SpanKind, span

log = structlog.get_logger(__name__)

EventHandler = Callable[[CloudEvent, asyncpg.Connection], Awaitable[None]]

CONSUMED = Counter("loginless_events_consumed_total", "Events processed by a consumer", ["consumer", "outcome"])


def dead_letter_topic(topic: str, consumer: str) -> str:
    return f"{topic}.{consumer}.dlq"


class InboxConsumer:
    def __init__(
        self,
        store: EventStore,
        *,
        consumer: str,
        topic: str,
        handler: EventHandler,
        handles: Collection[str] | None = None,
        upcasters: Upcasters | None = None,
        max_attempts: int = 5,
        retry_delay_seconds: float = 0.05,
        retry_budget_seconds: float = 1.0,
        group_id: str | None = None,
    ) -> None:
        """``handles``: the CloudEvents types ``handler`` reads (None: every type in the event catalog); others are
        skipped, unless ``upcasters`` read them as one of those. ``group_id``: the Kafka consumer group, if not
        ``consumer`` (which also names the inbox rows and the dead-letter topic)."""
        self.store = store
        self.consumer = consumer
        self.topic = topic
        self.handler = handler
        self.group_id = group_id or consumer
        self.reader = EventReader(handles, upcasters)
        self.retries = RetryPolicy(max_attempts=max_attempts, first_delay_seconds=retry_delay_seconds,
                                   budget_seconds=retry_budget_seconds)
        self.dead_letter_topic = dead_letter_topic(topic, consumer)
        self._inbox = f"{quote_ident(store.schema)}.inbox"
        self._subscriber: object | None = None
        self._in_flight: set[int] = set()  # partitions with a record being processed now

    def subscribe(self, broker: KafkaBroker) -> None:
        """Register on ``broker``: one consumer group per consumer, reading from the earliest offset."""
        self._subscriber = broker.subscriber(
            self.topic,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            title=f"{self.consumer}:{self.topic}",
        )
        self._subscriber(self._consume_with(broker))
        broker.publisher(self.dead_letter_topic, title=f"{self.consumer}:dead-letters",
                         description="Events this consumer gave up on; the error is in the headers.")

    def _consume_with(self, broker: KafkaBroker) -> Callable[[KafkaMessage], Awaitable[None]]:
        async def consume(message: KafkaMessage) -> None:
            partition = getattr(message.raw_message, "partition", -1)
            self._in_flight.add(partition)
            try:
                await self.process(message.body, broker=broker, record=message.raw_message)
            finally:
                self._in_flight.discard(partition)

        consume.__name__ = f"consume_{self.consumer.replace('-', '_')}"
        return consume

    async def caught_up(self) -> dict[int, datetime | None]:
        """For each partition assigned to this process: when Kafka last told it that nothing was left to read there
        (the time that fetch answered), with nothing read left unprocessed; None while records wait or before the
        first fetch. A reader of what this consumer maintains can tell from it how fresh that is."""
        kafka = getattr(self._subscriber, "consumer", None)  # FastStream's AIOKafkaConsumer, once started
        if kafka is None:
            return {}
        caught_up: dict[int, datetime | None] = {}
        for partition in kafka.assignment():
            try:
                highwater, polled_ms = kafka.highwater(partition), kafka.last_poll_timestamp(partition)
                position = await kafka.position(partition)
            except (AssertionError, IllegalStateError):  # revoked by a rebalance meanwhile
                continue
            done = (highwater is not None and polled_ms is not None and position >= highwater
                    and partition.partition not in self._in_flight)
            caught_up[partition.partition] = datetime.fromtimestamp(polled_ms / 1000, UTC) if done else None
        return caught_up

    async def process(self, body: bytes, *, broker: KafkaBroker, record: object) -> None:
        """Apply one message once; raise only to have it redelivered (the offset is then not committed)."""
        attempt, started = 0, time.monotonic()
        while True:
            attempt += 1
            try:
                event = self._parse(body)
                reading = self.reader.read(event)
                if not isinstance(reading, Handle):
                    self._skipped(event, reading.reason, record)
                    return
                if reading.upcast_from:
                    log.info("event upcast", consumer=self.consumer, event_id=event.id, upcast_from=event.type,
                             upcast_to=reading.event.type)
                outcome = await self._apply(reading.event)
                CONSUMED.labels(self.consumer, outcome).inc()
                return
            except (DependencyUnavailable, *DATABASE_UNAVAILABLE) as error:
                log.warning("database unavailable; will redeliver", consumer=self.consumer, error=repr(error))
                await asyncio.sleep(1.0)
                raise
            except PoisonMessage as error:
                await self._dead_letter(broker, body, record, error, attempt)
                return
            except Exception as error:
                delay = self.retries.delay_after(attempt, time.monotonic() - started)
                if delay is None:
                    await self._dead_letter(broker, body, record, error, attempt)
                    return
                log.warning("handler failed; retrying", consumer=self.consumer, attempt=attempt, error=repr(error),
                            retry_in=delay)
                await asyncio.sleep(delay)

    def _skipped(self, event: CloudEvent, reason: SkipReason, record: object) -> None:
        """Counted and logged, offset committed, never retried: waiting would not teach this version the type."""
        CONSUMED.labels(self.consumer, f"skipped_{reason}").inc()
        # A type from the future (a rolling upgrade under way) deserves a warning; a known type the consumer has
        # no use for is routine.
        report = log.warning if reason is SkipReason.UNKNOWN_VERSION else log.debug
        report("event skipped", consumer=self.consumer, event_type=event.type, event_id=event.id,
               reason=str(reason), partition=getattr(record, "partition", None), offset=getattr(record, "offset", None))

    def _parse(self, body: bytes) -> CloudEvent:
        try:
            return CloudEvent.from_message(body)
        except (ValidationError, ValueError) as error:
            raise PoisonMessage(f"not a CloudEvent: {error}") from error

    async def _apply(self, event: CloudEvent) -> str:
        try:
            event_id = uuid.UUID(event.id)
        except ValueError as error:
            raise PoisonMessage(f"event id is not a UUID: {event.id!r}") from error
        # Handled in the trace of the request that caused the event (its ``traceparent``), when tracing is on.
        parent = {"traceparent": event.traceparent} if event.traceparent else None
        with span(f"process {event.type}", kind=SpanKind.CONSUMER, parent=parent,
                  attributes={"messaging.consumer.group.name": self.consumer, "cloudevents.event_id": event.id}):
            return await self._apply_once(event, event_id)

    async def _apply_once(self, event: CloudEvent, event_id: uuid.UUID) -> str:
        async with self.store.transaction() as connection:
            first_time = await connection.fetchval(
                f"INSERT INTO {self._inbox} (consumer, event_id, event_type) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING RETURNING true",
                self.consumer, event_id, event.type,
            )
            if not first_time:
                return "duplicate"
            await self.handler(event, connection)
        return "processed"

    async def _dead_letter(self, broker: KafkaBroker, body: bytes, record: object, error: BaseException,
                           attempts: int) -> None:
        headers = {
            "content-type": "application/cloudevents+json",
            "x-dead-letter-consumer": self.consumer,
            "x-dead-letter-error": f"{type(error).__name__}: {error}"[:1000],
            "x-dead-letter-traceback": "".join(traceback.format_exception(error))[-4000:],
            "x-dead-letter-attempts": str(attempts),
            "x-original-topic": str(getattr(record, "topic", self.topic)),
            "x-original-partition": str(getattr(record, "partition", "")),
            "x-original-offset": str(getattr(record, "offset", "")),
        }
        key = getattr(record, "key", None)
        await broker.publish(body, self.dead_letter_topic, key=key, headers=headers)
        CONSUMED.labels(self.consumer, "dead_lettered").inc()
        log.error("event dead-lettered", consumer=self.consumer, dead_letter_topic=self.dead_letter_topic,
                  error=headers["x-dead-letter-error"], attempts=attempts)
