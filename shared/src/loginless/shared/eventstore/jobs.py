"""Durable jobs: what a service must still do after a commit, done by its worker until it is done.

A command that calls for work elsewhere (issue a link at links, seal a PDF, file a document at documents) queues
a job in the transaction that records its events, so the work can be neither lost nor done for an event that
never committed. The request may try it at once; the worker claims due jobs under a lease (another worker skips
them; a worker that dies gives them back when the lease ends) and runs each through its kind's handler:

- it returns: the job is finished and removed;
- it raises :class:`~loginless.shared.errors.DependencyUnavailable`: tried again later, the delay doubling up to
  a ceiling;
- it raises another error, or the job is past its deadline: the kind's ``give_up`` decides what that means (a
  request fails and says why), and the job is removed.

Jobs are plain rows, not events: they are how the service gets work done, not facts of its domain, and a
projection rebuild never touches them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from loginless.shared.errors import DependencyUnavailable, LoginlessError
from loginless.shared.eventstore.migrations import quote_ident

log = structlog.get_logger(__name__)

Executor = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class Job:
    kind: str
    key: str
    tenant_id: str
    payload: Mapping[str, Any]
    attempts: int  # including the one under way
    deadline: datetime | None


@dataclass(frozen=True)
class JobKind:
    """How the worker does one kind of job and what it does when that cannot succeed."""

    name: str
    run: Callable[[Job], Awaitable[None]]
    give_up: Callable[[Job, str], Awaitable[None]] | None = None  # with why; None: the job is just dropped
    retry_seconds: float = 2.0  # the first delay after a dependency was down; it doubles from there
    max_retry_seconds: float = 300.0
    lease_seconds: float = 120.0  # longer than one run can take (sealing a long PDF)


class Jobs:
    """The ``jobs`` table of one service's schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self._table = f"{quote_ident(schema)}.jobs"

    async def queue(self, db: Executor, kind: str, key: str, *, tenant_id: str,
                    payload: Mapping[str, Any] | None = None, deadline: datetime | None = None,
                    due_at: datetime | None = None) -> None:
        """Queue a job (in the caller's transaction); one already pending under the same kind and key stays."""
        await db.execute(
            f"INSERT INTO {self._table} (kind, key, tenant_id, payload, deadline, next_attempt_at)"
            " VALUES ($1, $2, $3, $4::jsonb, $5, coalesce($6, now())) ON CONFLICT (kind, key) DO NOTHING",
            kind, key, tenant_id, json.dumps(dict(payload or {})), deadline, due_at)

    async def pending(self, db: Executor, kind: str, key: str) -> bool:
        return bool(await db.fetchval(f"SELECT 1 FROM {self._table} WHERE kind = $1 AND key = $2", kind, key))

    async def finish(self, db: Executor, kind: str, key: str) -> None:
        await db.execute(f"DELETE FROM {self._table} WHERE kind = $1 AND key = $2", kind, key)

    async def claim_due(self, kind: str, *, limit: int, lease_seconds: float) -> list[Job]:
        """Take up to ``limit`` due jobs of a kind; others skip them until the lease ends."""
        rows = await self.pool.fetch(
            f"UPDATE {self._table} SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $3)"
            f" WHERE (kind, key) IN (SELECT kind, key FROM {self._table} WHERE kind = $1 AND next_attempt_at <= now()"
            "                        ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
            " RETURNING kind, key, tenant_id, payload, attempts, deadline", kind, limit, lease_seconds)
        return [Job(kind=r["kind"], key=r["key"], tenant_id=r["tenant_id"], payload=json.loads(r["payload"]),
                    attempts=r["attempts"], deadline=r["deadline"]) for r in rows]

    async def retry_later(self, job: Job, delay_seconds: float, error: str) -> None:
        await self.pool.execute(
            f"UPDATE {self._table} SET next_attempt_at = now() + make_interval(secs => $3), last_error = $4"
            " WHERE kind = $1 AND key = $2", job.kind, job.key, delay_seconds, error[:500])

    async def work_through(self, kinds: list[JobKind], *, now: datetime, limit: int = 20) -> int:
        """One round of the worker over every kind; returns how many jobs it ran."""
        handled = 0
        for kind in kinds:
            for job in await self.claim_due(kind.name, limit=limit, lease_seconds=kind.lease_seconds):
                handled += 1
                await self._run(kind, job, now)
        return handled

    async def _run(self, kind: JobKind, job: Job, now: datetime) -> None:
        if job.deadline is not None and now >= job.deadline:
            await self._give_up(kind, job, "it could not be done in time")
            return
        try:
            await kind.run(job)
        except DependencyUnavailable as error:
            delay = min(kind.retry_seconds * 2 ** (job.attempts - 1), kind.max_retry_seconds)
            await self.retry_later(job, delay, error.detail)
            log.warning("job failed; will retry", kind=job.kind, key=job.key, attempts=job.attempts,
                        retry_in=delay, error=error.detail)
            return
        except LoginlessError as error:
            await self._give_up(kind, job, error.detail)
            return
        except Exception as error:  # a fault of ours: kept, and tried again after a while, never lost
            await self.retry_later(job, kind.max_retry_seconds, repr(error))
            log.exception("job raised; will retry", kind=job.kind, key=job.key, attempts=job.attempts)
            return
        await self.finish(self.pool, job.kind, job.key)

    async def _give_up(self, kind: JobKind, job: Job, reason: str) -> None:
        log.warning("job given up", kind=job.kind, key=job.key, attempts=job.attempts, reason=reason)
        if kind.give_up is not None:
            await kind.give_up(job, reason)
        await self.finish(self.pool, job.kind, job.key)
