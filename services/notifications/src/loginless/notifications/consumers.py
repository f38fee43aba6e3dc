"""The notifications worker's consumers: every other service's topic, one consumer group per topic.

Each event is handled in its inbox transaction (``handlers.record_event``), so a redelivered one adds no second
fact to any mail. Kept apart from the handlers so that the API process never loads the Kafka client.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from loginless.events import CloudEvent
from loginless.notifications.handlers import WATCHED_SERVICES, NotificationsContext, record_event
from loginless.shared.messaging import InboxConsumer


def consumer_of(service: str) -> Callable[[NotificationsContext], InboxConsumer]:
    def consumer(ctx: NotificationsContext) -> InboxConsumer:
        async def apply(event: CloudEvent, connection: asyncpg.Connection) -> None:
            await record_event(ctx, event, connection)

        return InboxConsumer(ctx.store, consumer=f"notifications-{service}", topic=ctx.settings.topic_of(service),
                             handler=apply, max_attempts=ctx.settings.consumer_max_attempts)

    consumer.__name__ = f"{service}_events_consumer"
    return consumer


CONSUMERS = [consumer_of(service) for service in WATCHED_SERVICES]
