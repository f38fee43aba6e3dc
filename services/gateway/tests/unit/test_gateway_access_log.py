"""The access log: lines in the shape of every other log line, batched (they wait a moment, or until enough
gather, then go out together, whole)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from loginless.shared.web.access_log import AccessLog, BatchedOutput
from loginless.shared.web.logging import structlog_config
from loginless.testkit.waiting import eventually

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


@pytest.fixture
def structlog_restored():
    """These tests configure structlog as a process would; the tests after them get the previous setup back."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("structlog_restored")
def test_an_access_line_has_the_fields_and_shape_of_a_structlog_line(capsysbinary):
    structlog_config(as_json=True, level="INFO").structlog_logging_config.configure()
    structlog.get_logger("reference").info("reference line", link_id="lnk_1")
    reference = json.loads(capsysbinary.readouterr().out.splitlines()[-1])
    before = datetime.now(UTC)
    AccessLog(BatchedOutput(), level="INFO", as_json=True).info(
        "guest request proxied", link_id="lnk_1", status_code=200, duration_ms=1.25)
    line = json.loads(capsysbinary.readouterr().out)
    assert line == {"event": "guest request proxied", "level": "info", "link_id": "lnk_1", "status_code": 200,
                    "duration_ms": 1.25, "timestamp": line["timestamp"]}
    assert set(reference) - {"link_id", "event"} == {"level", "timestamp"}  # nothing structlog adds is missing
    assert len(line["timestamp"]) == len(reference["timestamp"]) and line["timestamp"].endswith("Z")
    stamped = datetime.fromisoformat(line["timestamp"].removesuffix("Z")).replace(tzinfo=UTC)
    assert before - timedelta(microseconds=1) <= stamped <= datetime.now(UTC)


@pytest.mark.usefixtures("structlog_restored")
def test_access_lines_follow_the_log_level_and_console_logging(capsysbinary):
    AccessLog(BatchedOutput(), level="warning", as_json=True).info("guest request proxied", link_id="lnk_1")
    assert capsysbinary.readouterr().out == b""
    structlog_config(as_json=False, level="INFO").structlog_logging_config.configure()
    AccessLog(BatchedOutput(), level="INFO", as_json=False).info("guest request proxied", link_id="lnk_1")
    out = capsysbinary.readouterr().out
    assert b"guest request proxied" in out and b"lnk_1" in out
    assert not out.startswith(b"{")  # rendered for a console, like the other lines
