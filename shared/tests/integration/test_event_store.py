"""The event store against real PostgreSQL: atomic appends, optimistic concurrency, loading."""

import asyncio
import uuid

import pytest

from loginless.shared.errors import ConcurrencyConflict
from loginless.shared.eventstore import EventMetadata
from loginless.testkit.sample import TallyIncremented

pytestmark = pytest.mark.integration

META = EventMetadata(tenant_id="tenant-a", correlation_id="corr-1")


def tally(number: int, tally_id: str = "t") -> TallyIncremented:
    return TallyIncremented(tally_id=tally_id, number=number)


async def test_appended_events_load_back_in_order_with_their_metadata(store):
    async with store.transaction() as connection:
        await store.append("t", 0, [tally(1), tally(2)], META, connection=connection)
    async with store.transaction() as connection:
        await store.append("t", 2, [tally(3)], META, connection=connection)
    events = await store.load("t")
    assert [e.version for e in events] == [1, 2, 3]
    assert [e.payload.number for e in events] == [1, 2, 3]
    assert events[0].metadata == META
    assert await store.load("another") == []


async def test_twenty_concurrent_appends_at_the_same_version_only_one_wins(store):
    start = asyncio.Event()

    async def append_once(writer: int):
        await start.wait()
        async with store.transaction() as connection:
            await store.append("contended", 0, [tally(1, f"writer-{writer}")], META, connection=connection)

    tasks = [asyncio.create_task(append_once(i)) for i in range(20)]
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    winners = [r for r in results if r is None]
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert (len(winners), len(conflicts)) == (1, 19), results
    assert len(await store.load("contended")) == 1


async def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(store):
    async with store.transaction() as connection:
        await store.append("t", 0, [tally(1)], META, connection=connection)
    for stale in (0, 2, 7):
        with pytest.raises(ConcurrencyConflict):
            async with store.transaction() as connection:
                await store.append("t", stale, [tally(9)], META, connection=connection)
    assert [e.version for e in await store.load("t")] == [1]
    assert await store.pool.fetchval(f'SELECT count(*) FROM "{store.schema}".outbox') == 1


async def test_events_and_outbox_rows_commit_or_roll_back_together(store):
    with pytest.raises(RuntimeError):
        async with store.transaction() as connection:
            await store.append("t", 0, [tally(1)], META, connection=connection)
            raise RuntimeError("the handler failed after appending")
    assert await store.load("t") == []
    assert await store.pool.fetchval(f'SELECT count(*) FROM "{store.schema}".outbox') == 0


async def test_the_outbox_row_is_the_cloudevent_keyed_by_stream(store):
    async with store.transaction() as connection:
        [recorded] = await store.append("stream-9", 0, [tally(1, "stream-9")], META, connection=connection)
    row = await store.pool.fetchrow(f'SELECT * FROM "{store.schema}".outbox')
    assert row["message_key"] == b"stream-9"
    assert row["topic"] == store.topic
    assert row["event_id"] == recorded.event_id
    assert uuid.UUID(str(row["event_id"]))


async def test_a_transaction_that_wrote_before_reading_cannot_overtake_the_stream(store):
    """Transaction ids must grow with versions: the relay orders by them."""
    early = await store.pool.acquire()
    try:
        transaction = early.transaction()
        await transaction.start()
        # This transaction takes its id now, by writing, and only later appends to the stream ...
        await early.execute(f'INSERT INTO "{store.schema}".inbox (consumer, event_id, event_type)'
                            " VALUES ('c', gen_random_uuid(), 'x')")
        # ... while a younger transaction appends version 1 and commits first.
        async with store.transaction() as connection:
            await store.append("raced", 0, [tally(1, "raced")], META, connection=connection)
        with pytest.raises(ConcurrencyConflict, match="concurrent transaction"):
            await store.append("raced", 1, [tally(2, "raced")], META, connection=early)
        await transaction.rollback()
    finally:
        await store.pool.release(early)
    async with store.transaction() as connection:  # a retry in a fresh transaction succeeds
        await store.append("raced", 1, [tally(2, "raced")], META, connection=connection)
    assert [e.version for e in await store.load("raced")] == [1, 2]
