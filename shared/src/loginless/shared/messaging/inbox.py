"""Consumers of other services' events: exactly-once effects on top of at-least-once delivery.

Each received event is recorded in the consumer's inbox in the same transaction as its effect, so a
redelivered event (after a crash, a rebalance or a relay retry) finds its id there and is skipped. A handler
that keeps failing for the same event ``max_attempts`` times sends it to a dead-letter topic with the error in
the headers, and the consumer moves on; an unreachable database is not the event's fault, so that is retried
until the database returns, without committing the offset.
"""

from __future__ import annotations

import asyncio
import traceback
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter
from pydantic import ValidationError

from loginless.events import CloudEvent
from loginless.shared.errors import DependencyUnavailable
from loginless.shared.eventstore import DATABASE_UNAVAILABLE, EventStore, quote_ident
from loginless.shared.tracing import SpanKind, span

log = structlog.get_logger(__name__)

EventHandler = Callable[[CloudEvent, asyncpg.Connection], Awaitable[None]]

CONSUMED = Counter("loginless_events_consumed_total", "Events processed by a consumer", ["consumer", "outcome"])


def dead_letter_topic(topic: str, consumer: str) -> str:
    return f"{topic}.{consumer}.dlq"


class PoisonMessage(Exception):
    """The message can never be processed (not a CloudEvent, or not valid for its type)."""


class InboxConsumer:
    def __init__(
        self,
        store: EventStore,
        *,
        consumer: str,
        topic: str,
        handler: EventHandler,
        max_attempts: int = 5,
        retry_delay_seconds: float = 0.2,
    ) -> None:
        self.store = store
        self.consumer = consumer
        self.topic = topic
        self.handler = handler
        self.max_attempts = max_attempts
        self.retry_delay_seconds = retry_delay_seconds
        self.dead_letter_topic = dead_letter_topic(topic, consumer)
        self._inbox = f"{quote_ident(store.schema)}.inbox"

    def subscribe(self, broker: KafkaBroker) -> None:
        """Register on ``broker``: one consumer group per consumer name, reading from the earliest offset."""
        broker.subscriber(
            self.topic,
            group_id=self.consumer,
            auto_offset_reset="earliest",
            title=f"{self.consumer}:{self.topic}",
        )(self._consume_with(broker))
        broker.publisher(self.dead_letter_topic, title=f"{self.consumer}:dead-letters",
                         description="Events this consumer gave up on; the error is in the headers.")

    def _consume_with(self, broker: KafkaBroker) -> Callable[[KafkaMessage], Awaitable[None]]:
        async def consume(message: KafkaMessage) -> None:
            await self.process(message.body, broker=broker, record=message.raw_message)

        consume.__name__ = f"consume_{self.consumer.replace('-', '_')}"
        return consume

    async def process(self, body: bytes, *, broker: KafkaBroker, record: object) -> None:
        """Apply one message once; raise only to have it redelivered (the offset is then not committed)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                event = self._parse(body)
                outcome = await self._apply(event)
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
                if attempt >= self.max_attempts:
                    await self._dead_letter(broker, body, record, error, attempt)
                    return
                log.warning("handler failed; retrying", consumer=self.consumer, attempt=attempt, error=repr(error))
                await asyncio.sleep(self.retry_delay_seconds * attempt)

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
