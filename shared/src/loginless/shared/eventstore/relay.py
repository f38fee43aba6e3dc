"""The outbox relay: publishes committed outbox rows to Kafka, in order, marking them only after the ack.

Ordering without gaps. Outbox ids come from a sequence, and sequence values are handed out at insert time,
not at commit time, so a relay reading ``id > last_seen`` skips a row whose transaction commits late. This
relay never keeps such a cursor. It takes unpublished rows whose writing transaction is older than every
transaction still running (``transaction_id < pg_snapshot_xmin(pg_current_snapshot())``): no new row can
appear below that horizon, so reading in ``(transaction_id, id)`` order never passes over a row that will
commit later. Per stream, transaction ids grow with versions (``EventStore.append`` checks it), so each
aggregate's events reach Kafka in version order.

It polls (every ``idle_poll_seconds`` when idle; at once while there is more) rather than being woken by
NOTIFY: a NOTIFY takes a database-wide lock at commit, which would serialise every writer's commit.

Single active relay per service: it works only while it holds a session-level advisory lock; a standby
retries the lock every ``takeover_interval`` seconds and takes over when the holder's connection dies.

Only the active relay reports the outbox's lag (rows waiting, and how long the oldest has waited), every
``lag_interval_seconds``; a standby reports none, so the series of a service always come from one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg
import structlog
from prometheus_client import Counter, Gauge

from loginless.events import CLOUDEVENTS_CONTENT_TYPE
from loginless.shared.eventstore.migrations import advisory_key, quote_ident
from loginless.shared.eventstore.store import DATABASE_UNAVAILABLE
from loginless.shared.kafka_connection import KafkaConnection
from loginless.shared.tracing import publish_span

log = structlog.get_logger(__name__)

RELAY_PUBLISHED = Counter("loginless_outbox_published_total", "Outbox rows published to Kafka", ["schema"])
RELAY_FAILURES = Counter("loginless_outbox_publish_failures_total", "Failed publish attempts", ["schema"])
RELAY_ACTIVE = Gauge("loginless_outbox_relay_active", "1 while this process is the active relay", ["schema"])
RELAY_UNPUBLISHED = Gauge("loginless_outbox_unpublished_rows", "Outbox rows waiting to be published", ["schema"])
RELAY_LAG = Gauge("loginless_outbox_lag_seconds",
                  "How long the oldest unpublished outbox row has waited; 0 when none waits", ["schema"])
EVENTS_PUBLISHED = Counter("loginless_events_published_total", "Events published to Kafka, by CloudEvent type",
                           ["type"])


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    key: bytes
    value: bytes


class MessageSink(Protocol):
    """Where the relay publishes: Kafka in production (``KafkaSink``); the protocol keeps the relay testable."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, rows: Sequence[OutboxRow]) -> None:
        """Return only once the broker acknowledged every row (acks=all); raise otherwise."""


class KafkaSink:
    """An idempotent aiokafka producer with ``acks=all``: retries cannot duplicate or reorder within a partition."""

    def __init__(self, connection: KafkaConnection | str, *, client_id: str) -> None:
        self.connection = KafkaConnection.of(connection)
        self.client_id = client_id
        self._producer = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer

        self._producer = AIOKafkaProducer(
            **self.connection.client_options(),
            client_id=self.client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            request_timeout_ms=10_000,
            retry_backoff_ms=200,
        )
        try:
            await self._producer.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def publish(self, rows: Sequence[OutboxRow]) -> None:
        assert self._producer is not None, "start() the sink first"
        headers = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]
        # send() only enqueues; awaiting the returned futures waits for the broker's acknowledgements.
        pending = []
        for row in rows:
            with publish_span(row.topic, row.value):
                pending.append(await self._producer.send(row.topic, row.value, key=row.key, headers=headers))
        await asyncio.gather(*pending)


class OutboxRelay:
    def __init__(
        self,
        dsn: str,
        *,
        schema: str,
        sink: MessageSink,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.02,
        takeover_interval: float = 1.0,
        max_backoff_seconds: float = 5.0,
        lag_interval_seconds: float = 5.0,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.sink = sink
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.takeover_interval = takeover_interval
        self.max_backoff_seconds = max_backoff_seconds
        self.lag_interval_seconds = lag_interval_seconds
        self.is_active = asyncio.Event()
        self._table = quote_ident(schema)
        self._lock_key = advisory_key("outbox-relay", schema)
        self._last_error = ""

    async def run(self) -> None:
        """Relay until cancelled, surviving database and broker outages with capped exponential backoff."""
        backoff = 0.1
        while True:
            try:
                await self._run_while_holding_lock()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except DATABASE_UNAVAILABLE as error:
                log.warning("relay lost the database", schema=self.schema, error=repr(error), retry_in=backoff)
            except Exception:
                log.exception("relay failed", schema=self.schema, retry_in=backoff)
            finally:
                self.is_active.clear()
                RELAY_ACTIVE.labels(self.schema).set(0)
                for gauge in (RELAY_UNPUBLISHED, RELAY_LAG):
                    with contextlib.suppress(KeyError):  # never reported, or already removed
                        gauge.remove(self.schema)
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.max_backoff_seconds)

    async def _run_while_holding_lock(self) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=5)
        try:
            while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                await asyncio.sleep(self.takeover_interval)
            log.info("relay active", schema=self.schema)
            self.is_active.set()
            RELAY_ACTIVE.labels(self.schema).set(1)
            await self._relay(connection)
        finally:
            connection.terminate()  # also releases the advisory lock at once

    async def _relay(self, connection: asyncpg.Connection) -> None:
        sink_started = False
        publish_backoff, horizon_wait = 0.05, 0.002
        loop = asyncio.get_running_loop()
        next_lag_report = loop.time()
        try:
            while True:
                if loop.time() >= next_lag_report:  # also while the broker is down: that is when lag grows
                    await self._report_lag(connection)
                    next_lag_report = loop.time() + self.lag_interval_seconds
                if not sink_started:
                    sink_started = await self._try(self.sink.start)
                    if not sink_started:
                        publish_backoff = await self._back_off(publish_backoff, "broker unreachable")
                        continue
                rows, waiting_on_running = await self._next_batch(connection)
                if rows:
                    if not await self._try(self.sink.publish, rows):
                        # Broker down or timing out: the rows stay unpublished and are sent again.
                        RELAY_FAILURES.labels(self.schema).inc()
                        await self.sink.stop()
                        sink_started = False
                        publish_backoff = await self._back_off(publish_backoff, "publish failed", rows=len(rows))
                        continue
                    publish_backoff = 0.05
                    await self.mark_published(connection, [row.id for row in rows])
                    RELAY_PUBLISHED.labels(self.schema).inc(len(rows))
                    count_by_type(rows)
                    continue
                if waiting_on_running:
                    # Committed rows wait behind a transaction that is still running: look again soon.
                    await asyncio.sleep(horizon_wait)
                    horizon_wait = min(horizon_wait * 2, 0.1)
                    continue
                horizon_wait = 0.002
                await asyncio.sleep(self.idle_poll_seconds)
        finally:
            await self.sink.stop()

    async def _try(self, action, *args) -> bool:  # noqa: ANN001
        try:
            await action(*args)
        except Exception as error:
            self._last_error = repr(error)
            return False
        return True

    async def _back_off(self, delay: float, reason: str, **context: object) -> float:
        log.warning(reason, schema=self.schema, error=self._last_error, retry_in=round(delay, 3), **context)
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        return min(delay * 2, self.max_backoff_seconds)

    async def _next_batch(self, connection: asyncpg.Connection) -> tuple[list[OutboxRow], bool]:
        records = await connection.fetch(
            f"""
            WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
            SELECT id, topic, message_key, message_value, transaction_id < horizon.xmin AS visible_to_all
            FROM {self._table}.outbox, horizon
            WHERE published_at IS NULL
            ORDER BY transaction_id, id
            LIMIT $1
            """,
            self.batch_size,
        )
        ready = []
        for record in records:
            if not record["visible_to_all"]:
                return ready, True
            ready.append(OutboxRow(record["id"], record["topic"], record["message_key"], record["message_value"]))
        return ready, False

    async def _report_lag(self, connection: asyncpg.Connection) -> None:
        waiting, oldest_seconds = await connection.fetchrow(
            f"""
            SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)
            FROM {self._table}.outbox WHERE published_at IS NULL
            """)
        RELAY_UNPUBLISHED.labels(self.schema).set(waiting)
        RELAY_LAG.labels(self.schema).set(float(oldest_seconds))

    async def mark_published(self, connection: asyncpg.Connection, ids: list[int]) -> None:
        await connection.execute(
            f"UPDATE {self._table}.outbox SET published_at = clock_timestamp() WHERE id = ANY($1::bigint[])", ids
        )


def count_by_type(rows: Sequence[OutboxRow]) -> None:
    """Count published events by their CloudEvent type (links issued, opened, revoked, … are these counts)."""
    for row in rows:
        try:
            event_type = json.loads(row.value)["type"]
        except (ValueError, KeyError, TypeError):
            event_type = "unknown"
        EVENTS_PUBLISHED.labels(event_type).inc()
