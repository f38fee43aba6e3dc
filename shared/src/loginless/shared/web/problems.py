"""The one place where errors become RFC 9457 ``application/problem+json`` responses."""

from __future__ import annotations

from http import HTTPStatus

from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from pydantic import BaseModel, ConfigDict

from loginless.shared.errors import DependencyUnavailable, LoginlessError
from loginless.shared.eventstore import DATABASE_UNAVAILABLE

PROBLEM_TYPE_BASE = "https://loginless.dev/problems/"


class Problem(BaseModel):
    """RFC 9457 problem details; some problems add members (``errors``, ``attempts_left``, ``link_id``…)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None


def problem_responses(descriptions: dict[int, str]) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem responses of an operation, by status code."""
    return {code: ResponseSpec(Problem, description=text, media_type="application/problem+json")
            for code, text in descriptions.items()}


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
    """The framework's own refusals (401, 404, 405, 413, a body that is not valid…) in RFC 9457's roles: the type
    and title say what kind of problem it is, the detail what exactly."""
    phrase = HTTPStatus(error.status_code).phrase
    extra = error.extra or None
    if isinstance(extra, list):  # a validation failure's list: the same ``errors`` members as every 422 of ours
        extra = {"errors": [_field_error(item) for item in extra]}
    return ProblemDetailsException(
        status_code=error.status_code,
        type_=PROBLEM_TYPE_BASE + phrase.lower().replace(" ", "-").replace("'", ""),
        title=phrase,
        detail=error.detail if error.detail != phrase else None,
        extra=extra,
        headers=error.headers,
    )


def _field_error(item: object) -> object:
    """Litestar's ``{"key", "message", "source"}`` as ``{"field", "message"}``: ``query.limit``, ``lines.0.price``."""
    if not isinstance(item, dict) or "key" not in item:
        return item
    source = getattr(item.get("source"), "value", item.get("source"))  # litestar's ParamType enum: "query"
    field = str(item["key"]) if source in (None, "body") else f"{source}.{item['key']}"  # body members bare, as in 422s
    return {"field": field, "message": item.get("message", "")}


def _from_unexpected(error: Exception) -> ProblemDetailsException:
    """A fault of ours: still a problem+json, saying nothing of the fault (it is logged with its traceback)."""
    return ProblemDetailsException(
        status_code=500, type_=PROBLEM_TYPE_BASE + "internal-error", title="Internal Server Error",
        detail="Something went wrong on our side. Try again, or contact us if it lasts.")


def problem_details_plugin() -> ProblemDetailsPlugin:
    mapping = {LoginlessError: _from_loginless_error, HTTPException: _from_http_exception,
               Exception: _from_unexpected}
    mapping.update(dict.fromkeys(DATABASE_UNAVAILABLE, _from_lost_database))
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map=mapping))
