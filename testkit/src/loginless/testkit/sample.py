"""A tiny event-sourced aggregate used by the kernel's own tests and benchmarks: a tally per stream.

It exercises the same path a real service does: an HTTP command handler that loads, decides and appends in
one transaction, and a consumer whose effect is a row in a projection table.
"""

from __future__ import annotations

import uuid

import asyncpg
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from pydantic import BaseModel

from loginless.events import CloudEvent, IntegrationEvent
from loginless.shared.errors import InvalidRequest
from loginless.shared.eventstore import EventMetadata, EventStore


class TallyIncremented(IntegrationEvent, service="sample", version=1):
    """``number`` equals the event's stream version, so a consumer can check order and gaps."""

    tally_id: str
    number: int


async def increment(store: EventStore, tally_id: str, *, tenant_id: str = "tenant-test",
                    retries: int = 50) -> int:
    """Load, decide, append; on a concurrency conflict try again with fresh state."""
    from loginless.shared.errors import ConcurrencyConflict

    for _ in range(retries):
        try:
            async with store.transaction() as connection:
                version = len(await store.load(tally_id, connection))
                await store.append(
                    tally_id, version, [TallyIncremented(tally_id=tally_id, number=version + 1)],
                    EventMetadata(tenant_id=tenant_id, correlation_id=str(uuid.uuid4())), connection=connection,
                )
                return version + 1
        except ConcurrencyConflict:
            continue
    raise RuntimeError(f"tally {tally_id} kept conflicting")


class IncrementResult(BaseModel):
    tally_id: str
    number: int


class TallyController(Controller):
    path = "/v1/tallies"

    @post("/{tally_id:str}/increments")
    async def increment(self, tally_id: FromPath[str], store: NamedDependency[EventStore]) -> IncrementResult:
        if not tally_id.isalnum() or len(tally_id) > 64:
            raise InvalidRequest("tally ids are up to 64 letters and digits", tally_id=tally_id[:64])
        async with store.transaction() as connection:
            version = len(await store.load(tally_id, connection))
            await store.append(
                tally_id, version, [TallyIncremented(tally_id=tally_id, number=version + 1)],
                EventMetadata(tenant_id="tenant-test", correlation_id=str(uuid.uuid4())), connection=connection,
            )
        return IncrementResult(tally_id=tally_id, number=version + 1)


PROJECTION_SQL = """
CREATE TABLE IF NOT EXISTS {schema}.tally_projection (
    tally_id text PRIMARY KEY,
    applied integer NOT NULL,
    highest integer NOT NULL
)
"""


def projecting_handler(schema: str):  # noqa: ANN201
    """A consumer effect that counts how often each tally's events were applied."""

    async def handle(event: CloudEvent, connection: asyncpg.Connection) -> None:
        await connection.execute(
            f'INSERT INTO "{schema}".tally_projection (tally_id, applied, highest) VALUES ($1, 1, $2)'
            " ON CONFLICT (tally_id) DO UPDATE SET applied = tally_projection.applied + 1,"
            " highest = greatest(tally_projection.highest, EXCLUDED.highest)",
            event.subject, event.data["number"],
        )

    return handle
