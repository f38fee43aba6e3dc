"""The one error hierarchy of loginless. The web layer maps it to RFC 9457 problem details in one place."""

from __future__ import annotations

from typing import Any


class LoginlessError(Exception):
    """An error a caller can act on. ``status_code`` and ``problem_type`` become the problem details."""

    status_code: int = 500
    problem_type: str = "internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ConcurrencyConflict(LoginlessError):
    """Someone else changed the aggregate first; reload and decide again (or tell the caller)."""

    status_code = 409
    problem_type = "concurrency-conflict"
    title = "The resource was changed by someone else"


class DependencyUnavailable(LoginlessError):
    """PostgreSQL, Kafka or S3 cannot be reached right now; nothing was written."""

    status_code = 503
    problem_type = "dependency-unavailable"
    title = "A service this request needs is unavailable"


class NotFound(LoginlessError):
    status_code = 404
    problem_type = "not-found"
    title = "Not found"


class InvalidRequest(LoginlessError):
    status_code = 422
    problem_type = "invalid-request"
    title = "The request is not valid"
