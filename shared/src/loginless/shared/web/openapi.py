"""The OpenAPI document every service serves at ``/schema/openapi.json``, made to tell the truth about the answers
the kernel gives on every route, so that no route has to repeat them.

Litestar documents what a handler declares. What the kernel adds in front of every handler it cannot know of:

- the framework's own 400 (a body or parameter of the wrong shape) is documented by Litestar as
  ``application/json`` with its exception's fields; it is answered as an RFC 9457 problem, so it is documented as one;
- the input guard's 422 (``input_guard.py``) on every route that takes parameters or a body;
- the staff API (``/v1``) asks for a tenant's API key: its operations say so, and that they answer 401;
- 404 on every route with a path parameter (nothing by that id);
- 409 and 422 where an ``Idempotency-Key`` is taken (the first request still running; the key reused with another
  body), 413 where a body is (larger than the route takes);
- 503 everywhere: a dependency (PostgreSQL, Kafka, S3) away answers it, with ``Retry-After``;
- every error response declared as ``application/json`` becomes ``application/problem+json``, as it is answered
  (a guest page's ``text/html`` stays beside it);
- path and query strings get the guard's length limits as ``maxLength``, the one definition both read.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin

from loginless.shared.web.input_guard import MAX_PATH_VALUE_LENGTH, MAX_QUERY_VALUE_LENGTH
from loginless.shared.web.problems import Problem

PROBLEM_JSON = "application/problem+json"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_LIMITS = {"path": MAX_PATH_VALUE_LENGTH, "query": MAX_QUERY_VALUE_LENGTH}


# A service's own last word on its document, for what Litestar cannot express (the gateway's token-free route).
OpenAPIRefinement = Callable[[dict[str, Any]], None]


def truthful(document: dict[str, Any], refine: OpenAPIRefinement | None = None) -> dict[str, Any]:
    """The document with the kernel's answers added to every operation (a new document; the given one is kept)."""
    document = copy.deepcopy(document)
    if refine is not None:
        refine(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", Problem.model_json_schema())
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            if (operation := item.get(method)) is not None:
                _complete(path, operation)
    return document


def _complete(path: str, operation: dict[str, Any]) -> None:
    parameters = operation.get("parameters", [])
    headers = {parameter["name"].lower() for parameter in parameters if parameter.get("in") == "header"}
    responses = operation.setdefault("responses", {})
    kernel_answers = {"503": "A service this request needs is unavailable; retry after Retry-After seconds"}
    if parameters or "requestBody" in operation:
        kernel_answers["400"] = "The request is malformed: a value of the wrong type or shape, or one missing"
        kernel_answers["422"] = "A value is not acceptable: the problem's errors name each field"
    if "requestBody" in operation:
        kernel_answers["413"] = "The body is larger than this operation takes"
    if path.startswith("/v1/"):
        operation.setdefault("security", [{"apiKey": []}])
        kernel_answers["401"] = "Missing or invalid API key"
    if any(parameter.get("in") == "path" for parameter in parameters):
        kernel_answers["404"] = "Nothing by that id here"
    if "idempotency-key" in headers:
        kernel_answers["409"] = "A request with this Idempotency-Key is still being processed"
        kernel_answers["422"] = "A value is not acceptable (the problem's errors name each field), or the " \
                                "Idempotency-Key was used with another body"
    for status, description in kernel_answers.items():
        response = responses.setdefault(status, {"description": description})
        response.setdefault("content", {}).setdefault(PROBLEM_JSON, {"schema": _PROBLEM_REF})
    for status, response in responses.items():
        if status[:1] in ("4", "5"):
            content = response.setdefault("content", {})
            content.pop("application/json", None)  # Litestar's own 400 is documented so, and answered as a problem
            content.setdefault(PROBLEM_JSON, {"schema": _PROBLEM_REF})
    for parameter in parameters:
        if limit := _LIMITS.get(parameter.get("in", "")):
            schema = parameter.get("schema", {})
            for option in [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]:
                kind = option.get("type")
                if (kind == "string" or isinstance(kind, list) and "string" in kind) and "maxLength" not in option:
                    option["maxLength"] = limit


class TruthfulJsonRenderPlugin(JsonRenderPlugin):
    """``/schema/openapi.json``: Litestar's document, completed by ``truthful`` once per process."""

    def __init__(self, refine: OpenAPIRefinement | None = None) -> None:
        super().__init__()
        self._refine = refine
        self._document: dict[str, Any] | None = None

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        if self._document is None:
            self._document = truthful(openapi_schema, self._refine)
        return self.render_json(request, self._document)
