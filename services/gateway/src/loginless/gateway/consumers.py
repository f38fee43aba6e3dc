"""The gateway worker's consumer: ``links.events`` into the link read model (``read_model.py``).

Kept apart from the read model so the API process, which only reads the table, never loads the Kafka client.
"""

from __future__ import annotations

import asyncpg

from loginless.events import CloudEvent
from loginless.gateway.read_model import LINK_STATE_EVENTS, LinkStateStore, facts_from_event
from loginless.shared.messaging import InboxConsumer
from loginless.shared.worker import WorkerRuntime

LINK_STATE_CONSUMER = "gateway-link-state"


def link_state_consumer(runtime: WorkerRuntime, *, consumer: str = LINK_STATE_CONSUMER) -> InboxConsumer:
    """The worker's consumer of ``links.events`` that keeps ``link_state`` current."""
    store, settings = runtime.store, runtime.settings
    link_states = LinkStateStore(store.pool, schema=store.schema)

    async def apply(event: CloudEvent, connection: asyncpg.Connection) -> None:
        facts = facts_from_event(event)
        if facts is not None:
            await link_states.merge(facts, connection)

    return InboxConsumer(store, consumer=consumer, topic=settings.topic_of("links"), handler=apply,
                         handles=LINK_STATE_EVENTS, max_attempts=settings.consumer_max_attempts)
