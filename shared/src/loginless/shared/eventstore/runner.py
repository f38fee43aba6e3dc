"""The one way a command changes state, and the read models kept from what it decided.

Every aggregate of every service is a :class:`~loginless.shared.eventstore.decider.Decider` (its service's
``domain.py``). :class:`DeciderRunner` does the rest, always the same way: load the stream, replay it into
state, decide, append the new events expecting the version it loaded, apply them to every :class:`Projection`
of the service in the same transaction, and, when another writer appended first (``ConcurrencyConflict``),
start over on fresh state. A command that loses a race is judged again against what won (two uses of a one-time
link: one gets in, the other finds it used up), rather than failing with a bare 409.

Read models are projections only: every row comes from an event, so :meth:`Projections.rebuild` can drop them
and replay the whole store into rows equal to the ones kept live. State that is not a domain fact (upload
offsets, leases, token hashes) lives in plain tables of the service and is never touched by a rebuild.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import asyncpg
import structlog

from loginless.shared.errors import ConcurrencyConflict
from loginless.shared.eventstore.decider import Command, Decider, State
from loginless.shared.eventstore.migrations import quote_ident
from loginless.shared.eventstore.store import EventMetadata, EventStore, RecordedEvent

log = structlog.get_logger(__name__)

CONFLICT_ATTEMPTS = 10
T = TypeVar("T")


@dataclass(frozen=True)
class Cause:
    """Why a command runs: copied onto each of its events (CloudEvents ``correlationid``/``causationid``)."""

    correlation_id: str
    causation_id: str | None = None


@dataclass(frozen=True)
class Outcome(Generic[State]):
    state: State | None
    version: int
    events: tuple[RecordedEvent, ...] = ()  # what this command appended; empty when it changed nothing


class Projection(Protocol):
    """A read model: rows derived from the service's events, and nothing else."""

    tables: Sequence[str]  # its tables in the service's schema, emptied before a rebuild

    async def apply(self, connection: asyncpg.Connection, event: RecordedEvent) -> None: ...

    async def forget(self, connection: asyncpg.Connection, stream_id: str) -> None:
        """Remove whatever this read model holds of ``stream_id`` (the stream is being erased)."""
        ...


class Projections:
    """The read models of one service, kept from its events, rebuilt from them, cleared of forgotten streams."""

    def __init__(self, store: EventStore, projections: Sequence[Projection] = ()) -> None:
        self.store = store
        self.projections = tuple(projections)

    async def apply(self, connection: asyncpg.Connection, events: Iterable[RecordedEvent]) -> None:
        for event in events:
            for projection in self.projections:
                await projection.apply(connection, event)

    async def rebuild(self) -> int:
        """Empty every read model and replay the whole event store into it; returns the events replayed.

        One transaction: readers see the old rows until it commits, and appends wait for it (the events table
        is locked against writes), so no event can slip between the replay and the switch.
        """
        schema = quote_ident(self.store.schema)
        tables = [f"{schema}.{quote_ident(table)}" for projection in self.projections for table in projection.tables]
        replayed = 0
        async with self.store.transaction() as connection:
            await connection.execute(f"LOCK TABLE {schema}.events IN EXCLUSIVE MODE")
            if tables:
                await connection.execute(f"TRUNCATE {', '.join(tables)}")
            async for event in self.store.read_all(connection):
                await self.apply(connection, [event])
                replayed += 1
        log.info("projections rebuilt", schema=self.store.schema, events=replayed, tables=len(tables))
        return replayed

    async def forget(self, stream_id: str, connection: asyncpg.Connection | None = None) -> int:
        """Erase a stream (personal data past its retention, or on request): its events, its outbox messages and
        every read-model row made from it, together. Returns how many events went."""
        if connection is None:
            async with self.store.transaction() as connection:
                return await self.forget(stream_id, connection)
        for projection in self.projections:
            await projection.forget(connection, stream_id)
        return await self.store.forget(stream_id, connection)

    async def forget_all(self, find: Callable[[int], Awaitable[list[str]]], *, batch: int = 200) -> int:
        """Forget every stream ``find(limit)`` names (the streams past their retention), a batch per transaction,
        until it names no more; returns how many streams went."""
        forgotten = 0
        while stale := await find(batch):
            async with self.store.transaction() as connection:
                for stream_id in stale:
                    await self.forget(stream_id, connection)
            forgotten += len(stale)
            if len(stale) < batch:
                break
        return forgotten


class DeciderRunner(Generic[State, Command]):
    """Runs commands against one kind of aggregate: load -> decide -> append -> project, retried on conflict."""

    def __init__(self, store: EventStore, decider: Decider[State, Command], projections: Projections, *,
                 attempts: int = CONFLICT_ATTEMPTS) -> None:
        self.store = store
        self.decider = decider
        self.projections = projections
        self.attempts = attempts

    async def load(self, stream_id: str, connection: asyncpg.Connection | None = None) -> tuple[State | None, int]:
        """The aggregate's current state (``None`` if its stream is empty) and its version."""
        recorded = await self.store.load(stream_id, connection)
        return self.decider.replay(event.payload for event in recorded), len(recorded)

    async def run(
        self,
        stream_id: str,
        command: Command | Callable[[], Command],
        cause: Cause,
        *,
        check: Callable[[State | None], None] | None = None,
        also: Callable[[asyncpg.Connection, Outcome[State]], Awaitable[None]] | None = None,
    ) -> Outcome[State]:
        """Run ``command`` in a transaction of its own, again on fresh state after a conflict.

        ``command`` may be a factory, called on every attempt (so a time it takes is read afresh); ``check`` sees
        the state first and raises to refuse (a stream of another tenant is "not found"); ``also`` does more
        work in the same transaction, after the events are appended and projected.
        """
        async def attempt() -> Outcome[State]:
            async with self.store.transaction() as connection:
                outcome = await self.run_in(connection, stream_id, command, cause, check=check)
                if also is not None:
                    await also(connection, outcome)
                return outcome

        return await retrying_on_conflict(attempt, attempts=self.attempts)

    async def run_in(
        self,
        connection: asyncpg.Connection,
        stream_id: str,
        command: Command | Callable[[], Command],
        cause: Cause,
        *,
        check: Callable[[State | None], None] | None = None,
        known: tuple[State | None, int] | None = None,
    ) -> Outcome[State]:
        """Run ``command`` in the caller's transaction (a consumer's, or one that changes several streams
        together); a conflict is raised to the caller, whose transaction is then rolled back whole.

        ``known`` is the state and version the caller already loaded in this transaction (or ``(None, 0)`` for a
        stream it has just named), so the stream is not read twice; a stale one still ends in a conflict."""
        state, version = known if known is not None else await self.load(stream_id, connection)
        if check is not None:
            check(state)
        events = list(self.decider.decide(state, command() if callable(command) else command))
        if not events:
            return Outcome(state, version)
        state = self.decider.replay(events, state)
        metadata = EventMetadata(tenant_id=state.tenant_id,  # type: ignore[attr-defined]
                                 correlation_id=cause.correlation_id, causation_id=cause.causation_id)
        appended = await self.store.append(stream_id, version, events, metadata, connection=connection)
        await self.projections.apply(connection, appended)
        return Outcome(state, version + len(events), tuple(appended))


async def retrying_on_conflict(operation: Callable[[], Awaitable[T]], *, attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run a transaction again while it loses races; for handlers that combine ``run_in`` with reads of their
    own (each attempt must load afresh)."""
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except ConcurrencyConflict:
            if attempt == attempts:
                raise
            log.debug("transaction lost a race; running it again", attempt=attempt)
    raise AssertionError("unreachable")
