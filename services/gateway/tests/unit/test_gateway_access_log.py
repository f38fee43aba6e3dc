"""The access log's batched output: lines wait a moment (or until enough gather), then go out together, whole."""

import pytest

from loginless.gateway.access_log import BatchedOutput
from loginless.shared.testing.waiting import eventually

pytestmark = pytest.mark.unit


async def test_lines_wait_a_moment_and_then_go_out_together_in_order(capsysbinary):
    output = BatchedOutput(flush_seconds=0.05, max_bytes=10_000)
    output.info(b'{"n":1}')
    output.info('{"n":2}')  # a text renderer hands over str
    assert capsysbinary.readouterr().out == b""
    written = bytearray()

    async def flushed() -> bool:
        written.extend(capsysbinary.readouterr().out)
        return bool(written)

    await eventually(flushed, timeout=5, interval=0.01, message="the batch written")
    assert bytes(written) == b'{"n":1}\n{"n":2}\n'


async def test_a_full_batch_goes_out_at_once_and_stopping_writes_the_rest(capsysbinary):
    output = BatchedOutput(flush_seconds=3600, max_bytes=20)
    output.info(b"0123456789")
    assert capsysbinary.readouterr().out == b""
    output.info(b"abcdefghij")  # 22 bytes with the newlines: over the limit
    assert capsysbinary.readouterr().out == b"0123456789\nabcdefghij\n"
    output.info(b"last")
    output.flush()  # what the gateway does when it stops
    assert capsysbinary.readouterr().out == b"last\n"


def test_without_an_event_loop_a_line_is_written_at_once(capsysbinary):
    output = BatchedOutput(flush_seconds=3600)
    output.info(b"now")
    assert capsysbinary.readouterr().out == b"now\n"
