"""Event sourcing on PostgreSQL: the event store, its transactional outbox and the relay to Kafka."""

from loginless.shared.eventstore.migrations import advisory_key, migrate, quote_ident
from loginless.shared.eventstore.relay import KafkaSink, MessageSink, OutboxRelay, OutboxRow
from loginless.shared.eventstore.store import (
    DATABASE_UNAVAILABLE,
    EventMetadata,
    EventStore,
    RecordedEvent,
    Upcasters,
    database_errors,
)

__all__ = [
    "DATABASE_UNAVAILABLE",
    "EventMetadata",
    "EventStore",
    "KafkaSink",
    "MessageSink",
    "OutboxRelay",
    "OutboxRow",
    "RecordedEvent",
    "Upcasters",
    "advisory_key",
    "database_errors",
    "migrate",
    "quote_ident",
]
