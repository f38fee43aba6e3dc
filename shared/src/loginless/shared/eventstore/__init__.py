"""Event sourcing on PostgreSQL: the event store, its transactional outbox and the relay to Kafka, the decider
runner and the projections kept from the events."""

from loginless.shared.eventstore.decider import Decider
from loginless.shared.eventstore.jobs import Job, JobKind, Jobs
from loginless.shared.eventstore.migrations import advisory_key, migrate, quote_ident
from loginless.shared.eventstore.relay import KafkaSink, MessageSink, OutboxRelay, OutboxRow
from loginless.shared.eventstore.runner import Cause, DeciderRunner, Outcome, Projection, Projections
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
    "Cause",
    "Decider",
    "DeciderRunner",
    "EventMetadata",
    "EventStore",
    "Job",
    "JobKind",
    "Jobs",
    "KafkaSink",
    "MessageSink",
    "Outcome",
    "OutboxRelay",
    "OutboxRow",
    "Projection",
    "Projections",
    "RecordedEvent",
    "Upcasters",
    "advisory_key",
    "database_errors",
    "migrate",
    "quote_ident",
]
