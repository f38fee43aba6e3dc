"""Durable jobs: queued with the commit that calls for them, done once, retried while a dependency is down, given
up past their deadline or on a refusal, and never lost when a worker dies holding one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loginless.shared.errors import DependencyUnavailable, InvalidRequest
from loginless.shared.eventstore import Job, JobKind, Jobs
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def jobs(store) -> Jobs:
    return Jobs(store.pool, store.schema)


def now() -> datetime:
    return datetime.now(UTC)


async def test_a_job_queued_in_a_rolled_back_transaction_never_runs(jobs, store):
    ran: list[str] = []
    with pytest.raises(RuntimeError):
        async with store.transaction() as connection:
            await jobs.queue(connection, "seal", "env_1", tenant_id="firm")
            raise RuntimeError("the command failed after queuing")

    assert await jobs.work_through([JobKind("seal", lambda job: _record(ran, job))], now=now()) == 0
    assert ran == []


async def test_queuing_a_pending_job_again_changes_nothing_and_a_done_job_is_gone(jobs):
    ran: list[str] = []
    await jobs.queue(jobs.pool, "seal", "env_1", tenant_id="firm", payload={"n": 1})
    await jobs.queue(jobs.pool, "seal", "env_1", tenant_id="firm", payload={"n": 2})

    assert await jobs.work_through([JobKind("seal", lambda job: _record(ran, job))], now=now()) == 1
    assert ran == ["env_1:1"]  # the first payload: queued once
    assert not await jobs.pending(jobs.pool, "seal", "env_1")
    assert await jobs.work_through([JobKind("seal", lambda job: _record(ran, job))], now=now()) == 0


async def test_a_dependency_down_puts_the_job_off_and_it_runs_again_until_it_succeeds(jobs, schema):
    attempts: list[int] = []
    down = True

    async def run(job: Job) -> None:
        attempts.append(job.attempts)
        if down:
            raise DependencyUnavailable("documents is down", dependency="documents")

    kind = JobKind("file", run, retry_seconds=0.001, max_retry_seconds=0.001)
    await jobs.queue(jobs.pool, "file", "env_1", tenant_id="firm")
    await jobs.work_through([kind], now=now())
    row = await jobs.pool.fetchrow(f'SELECT attempts, last_error FROM "{schema}".jobs')
    assert (row["attempts"], row["last_error"]) == (1, "documents is down")

    down = False
    await _until_run(jobs, kind)
    assert attempts == [1, 2] and not await jobs.pending(jobs.pool, "file", "env_1")


async def test_a_refusal_or_a_passed_deadline_gives_the_job_up_through_its_kind_and_says_why(jobs):
    given_up: list[tuple[str, str]] = []

    async def refuse(job: Job) -> None:
        raise InvalidRequest("links refused the recipient")

    async def give_up(job: Job, reason: str) -> None:
        given_up.append((job.key, reason))

    kind = JobKind("issue", refuse, give_up=give_up)
    await jobs.queue(jobs.pool, "issue", "refused", tenant_id="firm")
    await jobs.queue(jobs.pool, "issue", "late", tenant_id="firm", deadline=now() - timedelta(seconds=1))
    await jobs.work_through([kind], now=now())

    assert sorted(given_up) == [("late", "it could not be done in time"), ("refused", "links refused the recipient")]
    assert not await jobs.pending(jobs.pool, "issue", "refused") and not await jobs.pending(jobs.pool, "issue", "late")


async def test_a_claimed_job_is_skipped_by_other_workers_until_its_lease_runs_out(jobs):
    await jobs.queue(jobs.pool, "seal", "env_1", tenant_id="firm")

    [claimed] = await jobs.claim_due("seal", limit=10, lease_seconds=0.2)  # a worker takes it, then dies
    assert await jobs.claim_due("seal", limit=10, lease_seconds=60) == []  # the others leave it alone

    ran: list[str] = []
    await _until_run(jobs, JobKind("seal", lambda job: _record(ran, job)))
    assert claimed.attempts == 1 and ran == ["env_1:None"]


async def _record(ran: list[str], job: Job) -> None:
    ran.append(f"{job.key}:{job.payload.get('n')}")


async def _until_run(jobs: Jobs, kind: JobKind) -> None:
    async def ran_once() -> bool:
        await jobs.work_through([kind], now=now())
        return not await jobs.pending(jobs.pool, kind.name, "env_1")

    await eventually(ran_once, timeout=10, message="the job to run")
