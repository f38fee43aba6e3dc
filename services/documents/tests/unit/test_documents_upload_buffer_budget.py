"""``PartBuffers.room``: the per-process byte budget of upload part buffers, without I/O."""

import asyncio

import pytest

from loginless.documents.storage import PartBuffers, UploadBuffersFull

pytestmark = pytest.mark.unit

MIB = 1024 * 1024


async def test_an_upload_waits_for_room_and_proceeds_when_another_finishes():
    buffers = PartBuffers(5 * MIB, budget=10 * MIB, wait_seconds=60)
    first_done = asyncio.Event()

    async def first():
        async with buffers.room(10 * MIB):
            await first_done.wait()

    holder = asyncio.create_task(first())
    while buffers.held == 0:
        await asyncio.sleep(0)  # let the first upload take its room
    entered = asyncio.Event()

    async def second():
        async with buffers.room(5 * MIB):
            entered.set()

    waiter = asyncio.create_task(second())
    for _ in range(10):
        await asyncio.sleep(0)
    assert not entered.is_set() and buffers.held == 10 * MIB  # no room: it waits
    first_done.set()
    await asyncio.gather(holder, waiter)
    assert entered.is_set() and buffers.held == 0


async def test_no_room_within_the_wait_is_a_503_with_retry_after_and_holds_nothing():
    buffers = PartBuffers(5 * MIB, budget=5 * MIB, wait_seconds=0)
    async with buffers.room(5 * MIB):
        with pytest.raises(UploadBuffersFull) as refused:
            async with buffers.room(1):
                pass
    assert refused.value.status_code == 503 and refused.value.extra["retry_after"] >= 1
    assert buffers.held == 0


async def test_an_upload_larger_than_the_budget_gets_all_of_it_alone():
    buffers = PartBuffers(5 * MIB, budget=5 * MIB, wait_seconds=0)
    async with buffers.room(50 * MIB):
        assert buffers.held == 5 * MIB


def test_the_refusal_is_a_503_problem_with_retry_after():
    from loginless.shared.web.problems import _from_loginless_error

    problem = _from_loginless_error(UploadBuffersFull("too many uploads at once", retry_after=5))
    assert problem.status_code == 503 and problem.headers == {"Retry-After": "5"}
    assert problem.type_.endswith("/upload-buffers-full")
