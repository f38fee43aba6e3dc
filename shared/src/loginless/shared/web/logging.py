"""structlog JSON logs for API and worker processes alike; request and correlation ids are bound per request
(``context.RequestContext``, which also writes the one line per response)."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from litestar.logging.config import StructLoggingConfig, default_logger_factory, default_structlog_processors
from litestar.plugins.structlog import StructlogConfig
from litestar.types import Scope

from loginless.shared.tracing import add_trace_ids

# A capability token is 43 URL-safe base64 characters (256 bits). Nothing else the services log is that shape (ids
# are prefixed or UUIDs, hashes are hex of 64), so a run of 43 or more of them is taken for a token wherever it is.
TOKEN_LENGTH = 43
_TOKEN_SHAPED = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43,}(?![A-Za-z0-9_-])")
_HEX = re.compile(r"^[0-9a-f]+$")
REDACTED = "[redacted]"


def redact_tokens(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Every string of a log line with anything shaped like a link token in it (a path, a URL, a message) gets it
    replaced, whichever route or error put it there: a guest can put a token anywhere in a path."""
    for key, value in event.items():
        if isinstance(value, str) and len(value) >= TOKEN_LENGTH:
            event[key] = redact_text(value)
    return event


def redact_text(value: str) -> str:
    """``value`` with anything shaped like a link token in it replaced."""
    return _TOKEN_SHAPED.sub(_redacted, value)


def _redacted(match: re.Match[str]) -> str:
    return match[0] if _HEX.match(match[0]) else REDACTED  # a SHA-256 in hex is a digest, not a secret


def _processors(as_json: bool) -> list:
    processors = default_structlog_processors(as_json=as_json)
    # The ids go in, and tokens go out, before the line is rendered.
    return [*processors[:-1], add_trace_ids, redact_tokens, processors[-1]]


def configure_logging(*, as_json: bool, level: str) -> None:
    """For processes without a Litestar app (the worker); the API gets the same setup from ``structlog_config``."""
    logging.basicConfig(level=level, format="%(message)s")
    # httpx logs every request's full URL at INFO; URLs can carry capability tokens.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    structlog.configure(
        processors=_processors(as_json),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        # The JSON renderer Litestar uses produces bytes, so the logger must write bytes.
        logger_factory=structlog.BytesLoggerFactory() if as_json else structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )


def log_faults_only(logger: Any, scope: Scope, _: list[str]) -> None:
    """Litestar's handler for exceptions a request raised: a fault of ours is logged with its traceback; a refusal
    the caller can act on (any 4xx -- a guest's tus request without Tus-Resumable, a conflict, a file too large --
    and a 503 while a dependency is away) is not, because the response's own log line already says it at info
    level, and a stack trace for each would drown the real faults."""
    status = getattr(sys.exc_info()[1], "status_code", None)
    if isinstance(status, int) and (status < 500 or status == 503):
        return
    logger.exception("Uncaught exception", connection_type=scope["type"], path=scope["path"])


def structlog_config(*, as_json: bool, level: str) -> StructlogConfig:
    return StructlogConfig(
        structlog_logging_config=StructLoggingConfig(
            processors=_processors(as_json),
            # Litestar picks the logger from the terminal, not from our renderer: keep the two in step.
            logger_factory=default_logger_factory(as_json=as_json),
            wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
            log_exceptions="always",
            exception_logging_handler=log_faults_only,
        ),
        # Requests are logged by ``context.RequestContext``: one line per response, rendered directly.
        enable_middleware_logging=False,
    )
