"""The documents worker's consumer: what the links service reports about our links.

A link revoked or expired at links (by staff there, or by its expiry) ends for the share or upload request it
belongs to as well, so ``GET /v1/shares/{id}`` tells the truth. Kept apart from the handlers so that the API
process never loads the Kafka client.
"""

from __future__ import annotations

import asyncpg

from loginless.documents.handlers import DocumentsContext, record_link_event
from loginless.events import CloudEvent
from loginless.shared.messaging import InboxConsumer

LINKS_EVENTS_CONSUMER = "documents-links"


def links_events_consumer(ctx: DocumentsContext) -> InboxConsumer:
    async def apply(event: CloudEvent, connection: asyncpg.Connection) -> None:
        await record_link_event(ctx, event, connection)

    return InboxConsumer(ctx.store, consumer=LINKS_EVENTS_CONSUMER, topic=ctx.settings.topic_of("links"),
                         handler=apply, max_attempts=ctx.settings.consumer_max_attempts)
