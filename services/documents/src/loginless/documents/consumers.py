"""The documents worker's consumers: what the links and payments services report.

A link revoked or expired at links (by staff there, or by its expiry) ends for the share or upload request it
belongs to as well, so ``GET /v1/shares/{id}`` tells the truth. An invoice paid at payments unlocks the shares
locked on it, and a reversal that reopens it locks them again. Kept apart from the handlers so that the API process
never loads the Kafka client.
"""

from __future__ import annotations

import asyncpg

from loginless.documents.handlers import DocumentsContext, record_link_event, record_payment_event
from loginless.events import CloudEvent
from loginless.shared.messaging import InboxConsumer

LINKS_EVENTS_CONSUMER = "documents-links"
PAYMENTS_EVENTS_CONSUMER = "documents-payments"


def links_events_consumer(ctx: DocumentsContext) -> InboxConsumer:
    async def apply(event: CloudEvent, connection: asyncpg.Connection) -> None:
        await record_link_event(ctx, event, connection)

    return InboxConsumer(ctx.store, consumer=LINKS_EVENTS_CONSUMER, topic=ctx.settings.topic_of("links"),
                         handler=apply, max_attempts=ctx.settings.consumer_max_attempts)


def payments_events_consumer(ctx: DocumentsContext) -> InboxConsumer:
    async def apply(event: CloudEvent, connection: asyncpg.Connection) -> None:
        await record_payment_event(ctx, event, connection)

    return InboxConsumer(ctx.store, consumer=PAYMENTS_EVENTS_CONSUMER, topic=ctx.settings.topic_of("payments"),
                         handler=apply, max_attempts=ctx.settings.consumer_max_attempts)
