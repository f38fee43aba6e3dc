"""Access logs: one structured line per request, rendered directly rather than by the structlog pipeline.

Every service writes one line per response (``context.RequestContext``), at once (``ImmediateOutput``). The
gateway's proxied guest requests are the bulk of its traffic: every page, asset and upload chunk a guest sends, and
writing each line to stdout on its own costs a system call per request -- measured at a third of the gateway's CPU
per request (docs/gateway-performance.md). So, like nginx's ``access_log ... buffer= flush=``, ``BatchedOutput``
hands them to stdout together, at most ``flush_seconds`` later or when ``max_bytes`` have gathered, and when the
application stops. Only those lines wait; everything else is written at once. What a killed process loses is at
most the last ``flush_seconds`` of them.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog


class BatchedOutput:
    """A structlog logger (the thing that writes rendered lines) that writes them in batches."""

    def __init__(self, *, flush_seconds: float = 0.2, max_bytes: int = 64 * 1024) -> None:
        self.flush_seconds = flush_seconds
        self.max_bytes = max_bytes
        self._lines: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        atexit.register(self.flush)

    def msg(self, message: str | bytes) -> None:
        line = (message.encode() if isinstance(message, str) else message) + b"\n"
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self.max_bytes:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self.flush_seconds, self.flush)
            except RuntimeError:  # no event loop: nothing would flush later
                self.flush()

    debug = info = warning = warn = error = critical = exception = log = msg

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._lines:
            lines, self._lines, self._size = self._lines, [], 0
            output = sys.stdout.buffer
            output.write(b"".join(lines))
            output.flush()


class ImmediateOutput:
    """A structlog logger that writes each line at once, to the ``sys.stdout`` of the moment (as structlog's own
    loggers do: a line, then a flush)."""

    def msg(self, message: str | bytes) -> None:
        output = sys.stdout.buffer
        output.write((message.encode() if isinstance(message, str) else message) + b"\n")
        output.flush()

    debug = info = warning = warn = error = critical = exception = log = msg


class AccessLog:
    """One line per request, in the same JSON shape as every structlog line (the fields, then ``event``,
    ``level`` and an ISO ``timestamp`` in UTC), written to ``output``.

    Rendered here rather than by the structlog pipeline: that pipeline (bound logger, context copy, processors,
    a fresh ``datetime`` per line) cost about a tenth of a proxied request's CPU and half the CPU of the shared
    plumbing's per request, for a line whose fields are known strings and numbers. With console logging
    (``as_json=False``, for development) it goes through structlog.
    """

    def __init__(self, output: BatchedOutput | ImmediateOutput, *, level: str, as_json: bool) -> None:
        self.output = output
        self.enabled = logging.getLevelName(level.upper()) <= logging.INFO
        self.as_json = as_json
        self._encode = msgspec.json.Encoder().encode
        self._console: Any = None  # built on first use, once the application has configured structlog
        self._second = -1
        self._second_text = ""

    def info(self, event: str, **fields: str | int | float | None) -> None:
        if not self.enabled:
            return
        if not self.as_json:
            if self._console is None:
                self._console = _structlog_logger(self.output)
            self._console.info(event, **fields)
            return
        fields["event"] = event
        fields["level"] = "info"
        fields["timestamp"] = self._timestamp()
        self.output.msg(self._encode(fields))

    def _timestamp(self) -> str:
        """Like structlog's ``TimeStamper(fmt="iso")``; the date and time are formatted once per second."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._second_text}.{int((now - second) * 1_000_000):06d}Z"


def _structlog_logger(output: BatchedOutput | ImmediateOutput) -> Any:
    config = structlog.get_config()
    return structlog.wrap_logger(output, processors=config["processors"], wrapper_class=config["wrapper_class"],
                                 context_class=config["context_class"], cache_logger_on_first_use=True)
