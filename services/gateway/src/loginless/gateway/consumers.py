"""The gateway worker's consumer: ``links.events`` into the link read model (``read_model.py``), and how fresh the
read model is, reported to the API processes through ``link_state_freshness``.

Kept apart from the read model so the API process, which only reads the tables, never loads the Kafka client.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from loginless.events import CloudEvent
from loginless.gateway.read_model import LINK_STATE_EVENTS, LinkStateFreshness, LinkStateStore, facts_from_event
from loginless.shared.messaging import InboxConsumer
from loginless.shared.worker import WorkerRuntime

log = structlog.get_logger(__name__)

LINK_STATE_CONSUMER = "gateway-link-state"

# Often enough that a healthy worker's reports stay well inside GATEWAY_LINK_STATE_MAX_STALENESS_SECONDS (the
# consumer itself hears from Kafka every half second when idle: aiokafka's long-poll wait).
FRESHNESS_REPORT_SECONDS = 0.5


def link_state_consumer(runtime: WorkerRuntime, *, consumer: str = LINK_STATE_CONSUMER) -> InboxConsumer:
    """The worker's consumer of ``links.events`` that keeps ``link_state`` current."""
    store, settings = runtime.store, runtime.settings
    link_states = LinkStateStore(store.pool, schema=store.schema)

    async def apply(event: CloudEvent, connection: asyncpg.Connection) -> None:
        facts = facts_from_event(event)
        if facts is not None:
            await link_states.merge(facts, connection)

    # The group is the deployment's own (its topic prefix): deployments sharing a Kafka cluster never rebalance
    # each other's consumers, which would pause the revocations of both.
    return InboxConsumer(store, consumer=consumer, topic=settings.topic_of("links"), handler=apply,
                         handles=LINK_STATE_EVENTS, max_attempts=settings.consumer_max_attempts,
                         group_id=f"{settings.topic_prefix}{consumer}")


class LinkStateFeed:
    """The worker's consumer of ``links.events`` together with its freshness reports: the worker builds the
    consumer (``consumer``) and runs the reports (``report_freshness``) as a background task."""

    def __init__(self, *, consumer: str = LINK_STATE_CONSUMER,
                 report_seconds: float = FRESHNESS_REPORT_SECONDS) -> None:
        self.consumer_name = consumer
        self.report_seconds = report_seconds
        self._consumer: InboxConsumer | None = None

    def consumer(self, runtime: WorkerRuntime) -> InboxConsumer:
        self._consumer = link_state_consumer(runtime, consumer=self.consumer_name)
        return self._consumer

    async def report_freshness(self, runtime: WorkerRuntime) -> None:
        """Until cancelled, every ``report_seconds``: for each partition this worker consumes, when it was last
        caught up. On the way out its partitions are marked stale, so the API asks links until another worker
        (or this one, restarted) reports them again."""
        freshness = LinkStateFreshness(runtime.pool, schema=runtime.store.schema)
        reported: set[int] = set()
        try:
            while True:
                caught_up = await self._consumer.caught_up() if self._consumer else {}
                try:
                    await freshness.report(caught_up)
                    reported = set(caught_up)
                except Exception as error:  # the database is away: the reports age, and the API asks links
                    log.warning("link state freshness not reported", error=repr(error))
                await asyncio.sleep(self.report_seconds)
        finally:
            if reported:
                try:
                    await freshness.mark_stale(reported)
                except Exception as error:  # then the reports simply age past the bound
                    log.warning("link state freshness not marked stale", error=repr(error))
