"""The one place where errors become RFC 9457 ``application/problem+json`` responses."""

from __future__ import annotations

from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from loginless.shared.errors import DependencyUnavailable, LoginlessError
from loginless.shared.eventstore import DATABASE_UNAVAILABLE

PROBLEM_TYPE_BASE = "https://loginless.dev/problems/"


def _from_loginless_error(error: LoginlessError) -> ProblemDetailsException:
    # An error that says when to come back (``retry_after`` seconds) says it in the header clients act on too.
    retry_after = error.extra.get("retry_after", 5 if isinstance(error, DependencyUnavailable) else None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return ProblemDetailsException(
        status_code=error.status_code,
        type_=PROBLEM_TYPE_BASE + error.problem_type,
        title=error.title,
        detail=error.detail,
        extra=error.extra or None,
        headers=headers,
    )


def _from_lost_database(error: Exception) -> ProblemDetailsException:
    return _from_loginless_error(DependencyUnavailable("the database is unavailable", dependency="postgresql"))


def _from_http_exception(error: HTTPException) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=error.status_code,
        title=error.detail,
        extra=error.extra or None,
        headers=error.headers,
    )


def problem_details_plugin() -> ProblemDetailsPlugin:
    mapping = {LoginlessError: _from_loginless_error, HTTPException: _from_http_exception}
    mapping.update(dict.fromkeys(DATABASE_UNAVAILABLE, _from_lost_database))
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map=mapping))
