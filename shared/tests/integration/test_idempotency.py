"""The kernel's Idempotency-Key on real PostgreSQL: a replay gets the first answer, the same key with another
request is refused, and a key claimed by a process that died is free again once its lease runs out."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap

import pytest

from loginless.shared.eventstore import quote_ident
from loginless.shared.web.idempotency import (
    Answer,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    IdempotentRequests,
)
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration


class Counting:
    """Work that answers with how often it ran."""

    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self) -> Answer:
        self.runs += 1
        return Answer(201, {"run": self.runs})


async def test_a_retry_with_the_same_key_gets_the_first_answer_without_running_again(store):
    requests, work = IdempotentRequests(store.pool, store.schema), Counting()
    first = await requests.run(tenant_id="t1", operation="create", key="k-1", request={"a": 1}, work=work)
    again = await requests.run(tenant_id="t1", operation="create", key="k-1", request={"a": 1}, work=work)
    assert (first.status_code, first.body, first.replayed) == (201, {"run": 1}, False)
    assert (again.status_code, again.body, again.replayed) == (201, {"run": 1}, True)
    assert work.runs == 1
    # The key is the tenant's and the operation's: the same key elsewhere is another request.
    other = await requests.run(tenant_id="t2", operation="create", key="k-1", request={"a": 1}, work=work)
    assert (other.body, work.runs) == ({"run": 2}, 2)
    without_key = await requests.run(tenant_id="t1", operation="create", key=None, request={"a": 1}, work=work)
    assert not without_key.replayed and work.runs == 3


async def test_the_same_key_with_another_request_is_refused(store):
    requests = IdempotentRequests(store.pool, store.schema)
    await requests.run(tenant_id="t1", operation="create", key="k-2", request={"a": 1}, work=Counting())
    with pytest.raises(IdempotencyKeyReused):
        await requests.run(tenant_id="t1", operation="create", key="k-2", request={"a": 2}, work=Counting())


async def test_a_failed_attempt_releases_its_key_and_what_is_kept_for_replays_can_leave_secrets_out(store):
    requests, work = IdempotentRequests(store.pool, store.schema), Counting()

    async def failing() -> Answer:
        raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError):
        await requests.run(tenant_id="t1", operation="share", key="k-3", request={}, work=failing)
    first = await requests.run(tenant_id="t1", operation="share", key="k-3", request={}, work=work,
                               remember=lambda answer: Answer(answer.status_code, {"run": "hidden"}))
    replay = await requests.run(tenant_id="t1", operation="share", key="k-3", request={}, work=work)
    assert (first.body, replay.body, work.runs) == ({"run": 1}, {"run": "hidden"}, 1)


async def test_a_sealed_answer_is_stored_encrypted(store):
    class Reversing:
        def encrypt(self, plaintext: bytes, *, associated_data: str) -> bytes:
            return associated_data.encode() + b"|" + plaintext[::-1]

        def decrypt(self, ciphertext: bytes, *, associated_data: str) -> bytes:
            context, _, body = ciphertext.partition(b"|")
            assert context == associated_data.encode()
            return body[::-1]

    requests = IdempotentRequests(store.pool, store.schema, sealer=Reversing())
    await requests.run(tenant_id="t1", operation="issue", key="k-4", request={}, work=lambda: _answer("tok-123"))
    stored = await store.pool.fetchval(f"SELECT body FROM {quote_ident(store.schema)}.idempotent_answers")
    assert b"tok-123" not in stored
    replay = await requests.run(tenant_id="t1", operation="issue", key="k-4", request={}, work=Counting())
    assert replay.body == {"url": "tok-123"} and replay.replayed


async def _answer(secret: str) -> Answer:
    return Answer(201, {"url": secret})


async def test_while_the_first_request_works_a_retry_is_told_to_come_back(store):
    requests, started, release = IdempotentRequests(store.pool, store.schema), asyncio.Event(), asyncio.Event()

    async def slow() -> Answer:
        started.set()
        await release.wait()
        return Answer(201, {"done": True})

    first = asyncio.create_task(requests.run(tenant_id="t1", operation="upload", key="k-5", request={}, work=slow))
    await started.wait()
    with pytest.raises(IdempotencyKeyInUse) as in_use:
        await requests.run(tenant_id="t1", operation="upload", key="k-5", request={}, work=Counting())
    assert in_use.value.status_code == 409 and in_use.value.extra["retry_after"] >= 1
    release.set()
    assert (await first).body == {"done": True}


KILLED_WORKER = textwrap.dedent("""
    import asyncio, sys
    import asyncpg
    from loginless.shared.web.idempotency import IdempotentRequests

    async def main():
        pool = await asyncpg.create_pool(sys.argv[1], min_size=1, max_size=2)
        requests = IdempotentRequests(pool, sys.argv[2], lease_seconds=1.0)

        async def work():
            print("working", flush=True)
            await asyncio.Event().wait()  # until the process is killed

        await requests.run(tenant_id="t1", operation="upload", key="k-killed", request={"file": 1}, work=work)

    asyncio.run(main())
""")


async def test_a_key_claimed_by_a_process_killed_mid_request_is_free_once_its_lease_runs_out(store, database_url):
    worker = await asyncio.create_subprocess_exec(sys.executable, "-c", KILLED_WORKER, database_url, store.schema,
                                                  stdout=asyncio.subprocess.PIPE)
    assert (await asyncio.wait_for(worker.stdout.readline(), timeout=30)).strip() == b"working"
    worker.send_signal(signal.SIGKILL)
    await worker.wait()

    requests, work = IdempotentRequests(store.pool, store.schema), Counting()
    with pytest.raises(IdempotencyKeyInUse):  # its lease still runs: the retry may not go through yet
        await requests.run(tenant_id="t1", operation="upload", key="k-killed", request={"file": 1}, work=work)

    async def retried() -> Answer | None:
        try:
            return await requests.run(tenant_id="t1", operation="upload", key="k-killed", request={"file": 1},
                                      work=work)
        except IdempotencyKeyInUse:
            return None

    answer = await eventually(retried, timeout=10, message="the dead process's claim running out")
    assert (answer.body, answer.replayed, work.runs) == ({"run": 1}, False, 1)
    replay = await requests.run(tenant_id="t1", operation="upload", key="k-killed", request={"file": 1}, work=work)
    assert replay.replayed and work.runs == 1


async def test_keys_are_forgotten_after_24_hours(store):
    requests = IdempotentRequests(store.pool, store.schema)
    for key in ("old", "new"):
        await requests.run(tenant_id="t1", operation="create", key=key, request={}, work=Counting())
    await store.pool.execute(f"UPDATE {quote_ident(store.schema)}.idempotent_answers"
                             " SET created_at = now() - interval '25 hours' WHERE key = 'old'")
    assert await requests.prune() == 1
    again = await requests.run(tenant_id="t1", operation="create", key="old", request={"other": True},
                               work=Counting())
    assert not again.replayed  # a day later the key is anyone's again
