"""An append-only event store on PostgreSQL with optimistic concurrency and a transactional outbox.

``append`` writes the events and their CloudEvents messages for the outbox in one transaction, so a state
change and the announcement of it are committed together or not at all (no dual write to Kafka).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from loginless.events import CloudEvent, IntegrationEvent, event_class
from loginless.shared.errors import ConcurrencyConflict, DependencyUnavailable
from loginless.shared.eventstore.migrations import quote_ident
from loginless.shared.tracing import current_traceparent

# Connection-level failures: the database is unreachable or restarting. Nothing was committed.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionDoesNotExistError,
)

_EVENT_COLUMNS = "version, event_id, type, data, tenant_id, correlation_id, causation_id, recorded_at"

# Raised by the append_events SQL function when the stream is not at the expected version.
CONFLICT_SQLSTATE = "LL409"

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class EventMetadata:
    """Who and what caused the events: copied onto every CloudEvent as extension attributes."""

    tenant_id: str
    correlation_id: str
    causation_id: str | None = None


@dataclass(frozen=True)
class RecordedEvent:
    stream_id: str
    version: int
    event_id: uuid.UUID
    payload: IntegrationEvent
    metadata: EventMetadata
    recorded_at: datetime


class Upcasters:
    """Turns stored payloads of old event versions into the current version, one step at a time.

    Register ``(service, name, from_version) -> function(data) -> data`` for ``vN -> vN+1``.
    """

    def __init__(self) -> None:
        self._steps: dict[tuple[str, str, int], Upcaster] = {}

    def register(self, service: str, name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        def decorator(step: Upcaster) -> Upcaster:
            self._steps[(service, name, from_version)] = step
            return step

        return decorator

    def step(self, type_name: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """``data`` of ``type_name`` one version up, with its new type; None when no step is registered."""
        _, service, name, tag = type_name.split(".")
        version = int(tag.removeprefix("v"))
        step = self._steps.get((service, name, version))
        if step is None:
            return None
        return f"loginless.{service}.{name}.v{version + 1}", step(data)

    def upcast(self, type_name: str, data: dict[str, Any]) -> IntegrationEvent:
        while (stepped := self.step(type_name, data)) is not None:
            type_name, data = stepped
        return event_class(type_name).model_validate(data)


@asynccontextmanager
async def database_errors() -> AsyncIterator[None]:
    """Translate a lost or refused database connection into ``DependencyUnavailable`` (HTTP 503)."""
    try:
        yield
    except DATABASE_UNAVAILABLE as error:
        raise DependencyUnavailable("the database is unavailable", dependency="postgresql") from error


class EventStore:
    """The event store of one service: its schema, its Kafka topic, its upcasters."""

    def __init__(self, pool: asyncpg.Pool, *, schema: str, topic: str, upcasters: Upcasters | None = None) -> None:
        self.pool = pool
        self.schema = schema
        self.topic = topic
        self.upcasters = upcasters or Upcasters()
        self._table = quote_ident(schema)
        self._append_sql = (
            f"SELECT {self._table}.append_events($1, $2, $3, $4, $5::jsonb[], $6, $7, $8, $9, $10, $11)"
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A unit of work: append events and update read models or an inbox atomically."""
        async with database_errors(), self.pool.acquire() as connection, connection.transaction():
            yield connection

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[IntegrationEvent],
        metadata: EventMetadata,
        *,
        connection: asyncpg.Connection | None = None,
    ) -> list[RecordedEvent]:
        """Append ``events`` to ``stream_id`` if it is exactly at ``expected_version``; else raise a conflict.

        With ``connection`` (inside ``transaction()``) the caller's transaction commits events, outbox rows
        and whatever else it wrote together; without, the append is a transaction of its own.
        """
        if not events:
            return []
        traceparent = current_traceparent()  # the trace of whatever appends: it travels with the events
        cloud_events = [
            CloudEvent(
                source=payload.source(), type=payload.type_name(), subject=stream_id,
                data=payload.model_dump(mode="json"), tenantid=metadata.tenant_id,
                # What caused it: the event a consumer handled, else the request (its correlation id).
                correlationid=metadata.correlation_id, causationid=metadata.causation_id or metadata.correlation_id,
                traceparent=traceparent,
            )
            for payload in events
        ]
        recorded_at = cloud_events[0].time
        arguments = (
            stream_id, expected_version,
            [uuid.UUID(event.id) for event in cloud_events],
            [event.type for event in cloud_events],
            [json.dumps(event.data) for event in cloud_events],
            [event.to_message()[1] for event in cloud_events],
            metadata.tenant_id, metadata.correlation_id, metadata.causation_id, recorded_at, self.topic,
        )
        try:
            if connection is None:
                async with database_errors():
                    await self.pool.fetchval(self._append_sql, *arguments)
            else:
                await connection.fetchval(self._append_sql, *arguments)
        except asyncpg.UniqueViolationError as error:
            raise ConcurrencyConflict("another writer appended to this stream first", stream_id=stream_id,
                                      expected_version=expected_version) from error
        except asyncpg.PostgresError as error:
            if error.sqlstate == CONFLICT_SQLSTATE:
                raise ConcurrencyConflict(error.message, stream_id=stream_id,
                                          expected_version=expected_version) from error
            raise
        return [
            RecordedEvent(stream_id, expected_version + offset, uuid.UUID(event.id), payload, metadata, recorded_at)
            for offset, (event, payload) in enumerate(zip(cloud_events, events, strict=True), start=1)
        ]

    async def load(self, stream_id: str, connection: asyncpg.Connection | None = None) -> list[RecordedEvent]:
        """Every event of ``stream_id`` in version order, upcast to the current payload versions."""
        query = f"SELECT stream_id, {_EVENT_COLUMNS} FROM {self._table}.events WHERE stream_id = $1 ORDER BY version"
        if connection is None:
            async with database_errors():
                rows = await self.pool.fetch(query, stream_id)
        else:
            rows = await connection.fetch(query, stream_id)
        return [self._recorded(row) for row in rows]

    async def read_all(self, connection: asyncpg.Connection, *, batch_size: int = 500) -> AsyncIterator[RecordedEvent]:
        """Every event of every stream in the order they were appended (a projection rebuild's input), read
        through a cursor so memory stays flat however long the history. Must run inside a transaction."""
        query = (f"SELECT stream_id, {_EVENT_COLUMNS} FROM {self._table}.events"
                 " ORDER BY transaction_id, position")
        async for row in connection.cursor(query, prefetch=batch_size):
            yield self._recorded(row)

    async def forget(self, stream_id: str, connection: asyncpg.Connection) -> int:
        """Erase a stream: its events and every outbox message that carried them, published or not (a message
        not yet sent is never sent). Returns how many events went. Kafka's copies end with the topic's retention;
        read models are the caller's (``Projections.forget`` clears them in the same transaction)."""
        gone = await connection.fetchval(
            f"WITH gone AS (DELETE FROM {self._table}.events WHERE stream_id = $1 RETURNING 1)"
            " SELECT count(*) FROM gone", stream_id)
        await connection.execute(f"DELETE FROM {self._table}.outbox WHERE message_key = $1", stream_id.encode())
        return gone

    async def prune(self, *, outbox_older_than: timedelta, inbox_older_than: timedelta) -> tuple[int, int]:
        """Delete outbox rows published, and inbox rows received, longer ago than the given ages; returns how
        many of each. An unpublished outbox row is never pruned."""
        async with self.transaction() as connection:
            outbox = await connection.execute(
                f"DELETE FROM {self._table}.outbox WHERE published_at < now() - $1::interval", outbox_older_than)
            inbox = await connection.execute(
                f"DELETE FROM {self._table}.inbox WHERE received_at < now() - $1::interval", inbox_older_than)
        return int(outbox.split()[-1]), int(inbox.split()[-1])

    def _recorded(self, row: asyncpg.Record) -> RecordedEvent:
        return RecordedEvent(
            row["stream_id"], row["version"], row["event_id"],
            self.upcasters.upcast(row["type"], json.loads(row["data"])),
            EventMetadata(row["tenant_id"], row["correlation_id"], row["causation_id"]),
            row["recorded_at"],
        )
