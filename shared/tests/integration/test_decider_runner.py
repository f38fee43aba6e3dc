"""The kernel's decider runner and projections on real PostgreSQL: one transaction per command, a lost race judged
again, read models that a rebuild reproduces row for row, and streams forgotten whole."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from loginless.events import IntegrationEvent
from loginless.shared.errors import LoginlessError
from loginless.shared.eventstore import Cause, Decider, DeciderRunner, Projections, RecordedEvent, quote_ident

pytestmark = pytest.mark.integration

CAUSE = Cause(correlation_id="test")


# ---- a tiny aggregate: a seat that one guest at a time may hold ------------------------------------------------


class SeatOffered(IntegrationEvent, service="sample", version=1):
    seat_id: str
    tenant_id: str
    label: str


class SeatTaken(IntegrationEvent, service="sample", version=1):
    seat_id: str
    tenant_id: str
    guest: str


class SeatFreed(IntegrationEvent, service="sample", version=1):
    seat_id: str
    tenant_id: str


@dataclass(frozen=True)
class Seat:
    seat_id: str
    tenant_id: str
    label: str
    holder: str | None = None


@dataclass(frozen=True)
class Offer:
    seat_id: str
    label: str


@dataclass(frozen=True)
class Take:
    guest: str


@dataclass(frozen=True)
class Free:
    pass


class SeatTakenAlready(LoginlessError):
    status_code = 409
    problem_type = "seat-taken"


def decide(state: Seat | None, command: Offer | Take | Free) -> list[IntegrationEvent]:
    match command:
        case Offer(seat_id=seat_id, label=label):
            return [SeatOffered(seat_id=seat_id, tenant_id="tenant-test", label=label)]
        case Take(guest=guest):
            if state.holder is not None:
                raise SeatTakenAlready(f"held by {state.holder}")
            return [SeatTaken(seat_id=state.seat_id, tenant_id=state.tenant_id, guest=guest)]
        case Free():
            return [SeatFreed(seat_id=state.seat_id, tenant_id=state.tenant_id)] if state.holder else []
    raise TypeError(command)


def evolve(state: Seat | None, event: IntegrationEvent) -> Seat:
    match event:
        case SeatOffered():
            return Seat(event.seat_id, event.tenant_id, event.label)
        case SeatTaken(guest=guest):
            return replace(state, holder=guest)
        case SeatFreed():
            return replace(state, holder=None)
    raise TypeError(event)


SEAT = Decider(decide, evolve)


class SeatRows:
    """A read model of seats: who holds each, and how often it changed hands (a count a rebuild must redo)."""

    tables = ("seats",)

    def __init__(self, schema: str) -> None:
        self.table = f"{quote_ident(schema)}.seats"

    async def apply(self, connection: asyncpg.Connection, event: RecordedEvent) -> None:
        match event.payload:
            case SeatOffered(label=label):
                await connection.execute(f"INSERT INTO {self.table} (seat_id, label, handovers, version)"
                                         " VALUES ($1, $2, 0, $3)", event.stream_id, label, event.version)
            case SeatTaken(guest=guest):
                await connection.execute(f"UPDATE {self.table} SET holder = $2, handovers = handovers + 1,"
                                         " version = $3 WHERE seat_id = $1", event.stream_id, guest, event.version)
            case SeatFreed():
                await connection.execute(f"UPDATE {self.table} SET holder = NULL, version = $2 WHERE seat_id = $1",
                                         event.stream_id, event.version)

    async def forget(self, connection: asyncpg.Connection, stream_id: str) -> None:
        await connection.execute(f"DELETE FROM {self.table} WHERE seat_id = $1", stream_id)


@pytest.fixture
async def seats(store):
    await store.pool.execute(f"CREATE TABLE {quote_ident(store.schema)}.seats (seat_id text PRIMARY KEY,"
                             " label text NOT NULL, holder text, handovers integer NOT NULL, version integer NOT NULL)")
    projections = Projections(store, [SeatRows(store.schema)])
    return DeciderRunner(store, SEAT, projections)


async def offered(seats: DeciderRunner, label: str = "A1") -> str:
    seat_id = f"seat-{uuid.uuid4().hex[:8]}"
    await seats.run(seat_id, Offer(seat_id, label), CAUSE)
    return seat_id


async def rows(store, query: str = "SELECT * FROM {schema}.seats ORDER BY seat_id") -> list[dict]:
    return [dict(row) for row in await store.pool.fetch(query.format(schema=quote_ident(store.schema)))]


async def test_a_command_appends_its_events_and_projects_them_in_one_transaction(store, seats):
    seat_id = await offered(seats)
    outcome = await seats.run(seat_id, Take("ana"), CAUSE)
    assert (outcome.state.holder, outcome.version, [e.version for e in outcome.events]) == ("ana", 2, [2])
    assert await rows(store) == [{"seat_id": seat_id, "label": "A1", "holder": "ana", "handovers": 1, "version": 2}]
    assert [row["type"] for row in await store.pool.fetch(
        f"SELECT type FROM {quote_ident(store.schema)}.outbox o JOIN {quote_ident(store.schema)}.events e"
        " USING (event_id) WHERE stream_id = $1 ORDER BY e.version", seat_id)] == [
        SeatOffered.type_name(), SeatTaken.type_name()]


async def test_a_refused_command_and_a_failing_step_after_it_leave_no_trace(store, seats):
    seat_id = await offered(seats)
    await seats.run(seat_id, Take("ana"), CAUSE)
    with pytest.raises(SeatTakenAlready):
        await seats.run(seat_id, Take("bea"), CAUSE)

    async def fail(connection, outcome) -> None:
        raise RuntimeError("the step after the append failed")

    with pytest.raises(RuntimeError):
        await seats.run(seat_id, Free(), CAUSE, also=fail)
    assert (await seats.load(seat_id))[0].holder == "ana"
    assert (await rows(store))[0]["holder"] == "ana"
    outbox = await store.pool.fetchval(f"SELECT count(*) FROM {quote_ident(store.schema)}.outbox")
    assert outbox == 2  # the offer and the take


async def test_a_command_that_changes_nothing_appends_nothing(store, seats):
    seat_id = await offered(seats)
    outcome = await seats.run(seat_id, Free(), CAUSE)
    assert (outcome.events, outcome.version) == ((), 1)


async def test_of_simultaneous_takes_of_one_seat_exactly_one_wins_and_the_others_are_judged_again(store, seats):
    seat_id = await offered(seats)
    guests = [f"guest-{n}" for n in range(8)]
    results = await asyncio.gather(*(seats.run(seat_id, Take(guest), CAUSE) for guest in guests),
                                   return_exceptions=True)
    winners = [result for result in results if not isinstance(result, BaseException)]
    losers = [result for result in results if isinstance(result, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(loser, SeatTakenAlready) for loser in losers), losers  # never a bare ConcurrencyConflict
    assert (await rows(store))[0]["handovers"] == 1


async def test_a_rebuild_reproduces_every_read_model_row_from_the_events(store, seats):
    first, second, third = [await offered(seats, label) for label in ("A1", "A2", "B7")]
    for seat_id, guest in ((first, "ana"), (second, "bea"), (first, None), (first, "cai"), (third, "dan")):
        await seats.run(seat_id, Take(guest) if guest else Free(), CAUSE)
    live = await rows(store)
    await store.pool.execute(f"UPDATE {quote_ident(store.schema)}.seats SET handovers = 99")  # a drifted copy

    replayed = await seats.projections.rebuild()

    assert replayed == 3 + 5
    assert await rows(store) == live
    assert {row["seat_id"]: row["handovers"] for row in live} == {first: 2, second: 1, third: 1}


async def test_forgetting_a_stream_erases_its_events_outbox_messages_and_rows_and_nothing_else(store, seats):
    forgotten, kept = await offered(seats, "secret"), await offered(seats, "kept")
    await seats.run(forgotten, Take("ana@example.com"), CAUSE)
    await seats.run(kept, Take("bea"), CAUSE)

    assert await seats.projections.forget(forgotten) == 2

    schema = quote_ident(store.schema)
    for table, column in (("events", "stream_id"), ("seats", "seat_id")):
        assert await store.pool.fetchval(f"SELECT count(*) FROM {schema}.{table} WHERE {column} = $1", forgotten) == 0
    remaining = b"".join(row["message_value"] for row in await store.pool.fetch(f"SELECT * FROM {schema}.outbox"))
    assert b"ana@example.com" not in remaining and forgotten.encode() not in remaining
    assert kept.encode() in remaining
    assert [row["seat_id"] for row in await rows(store)] == [kept]
    assert await seats.projections.rebuild() == 2  # and a rebuild cannot bring it back
    assert [row["seat_id"] for row in await rows(store)] == [kept]


async def test_published_outbox_rows_and_processed_inbox_rows_are_pruned_after_their_retention(store, seats):
    schema = quote_ident(store.schema)
    old_published, unpublished = await offered(seats), await offered(seats)
    recent = await offered(seats)
    await store.pool.execute(f"UPDATE {schema}.outbox SET published_at = now() - interval '8 days'"
                             " WHERE message_key = $1", old_published.encode())
    await store.pool.execute(f"UPDATE {schema}.outbox SET published_at = now() - interval '1 hour'"
                             " WHERE message_key = $1", recent.encode())
    await store.pool.execute(f"UPDATE {schema}.outbox SET created_at = now() - interval '30 days'"
                             " WHERE message_key = $1", unpublished.encode())  # old, but never sent
    await store.pool.executemany(
        f"INSERT INTO {schema}.inbox (consumer, event_id, event_type, received_at) VALUES ('c', $1, 't', $2)",
        [(uuid.uuid4(), age) for age in (datetime.now(UTC) - timedelta(days=20), datetime.now(UTC))])

    pruned = await store.prune(outbox_older_than=timedelta(days=7), inbox_older_than=timedelta(days=14))

    assert pruned == (1, 1)
    left = {bytes(row["message_key"]).decode() for row in await store.pool.fetch(f"SELECT * FROM {schema}.outbox")}
    assert left == {unpublished, recent}
    assert await store.pool.fetchval(f"SELECT count(*) FROM {schema}.inbox") == 1
