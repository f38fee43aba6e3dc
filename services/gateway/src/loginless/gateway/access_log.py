"""The access log of proxied guest requests: one structured line per request, written in batches.

Every page, asset and upload chunk a guest sends is a proxied request, and writing its line to stdout on its own
costs a system call per request — measured at a third of the gateway's CPU per request (docs/gateway-performance.md).
Like nginx's ``access_log ... buffer= flush=``, lines are rendered at once by the usual structlog pipeline (same
fields, same format as every other line) but handed to stdout together, at most ``flush_seconds`` later or when
``max_bytes`` have gathered, and when the application stops. Only these lines wait; everything else the gateway
logs is written at once. What a killed process loses is at most the last ``flush_seconds`` of access lines.
"""

from __future__ import annotations

import asyncio
import atexit
import sys
from typing import Any

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


def access_logger(output: BatchedOutput) -> Any:
    """A logger with the configured processors (level filter, context, timestamp, renderer) writing to ``output``.

    Built when the application is created, after Litestar's structlog plugin has configured structlog.
    """
    config = structlog.get_config()
    return structlog.wrap_logger(output, processors=config["processors"], wrapper_class=config["wrapper_class"],
                                 context_class=config["context_class"], cache_logger_on_first_use=True)
