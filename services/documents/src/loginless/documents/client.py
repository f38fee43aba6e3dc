"""The documents service as the other services call it: one client, owned here beside the API it calls.

Every call goes to documents' internal API (``/internal/v1``) with the internal secret; answers are the model of
``views.py``, the one documents' own controller serves. Answers that mean something to the caller become return
values or the errors below; anything else -- documents down, slow, answering 5xx, or refusing our secret -- is
:class:`DocumentsUnavailable`, a 503, which a caller's durable job meets by trying again later.

:class:`DocumentsApi` is what callers depend on; tests give them the in-memory fake of the test kit
(``loginless.testkit.fake_documents``), which passes the same contract suite as this client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx
import structlog
from pydantic import BaseModel, Field, ValidationError

from loginless.documents.views import DocumentView
from loginless.shared.errors import DependencyUnavailable, InvalidRequest, LoginlessError, NotFound
from loginless.shared.tracing import inject_trace_headers

log = structlog.get_logger(__name__)

INTERNAL = "/internal/v1"


class DocumentsClientSettings(BaseModel):
    """Settings of a service that calls documents (mixed into its settings class: ``<SERVICE>_DOCUMENTS_URL``)."""

    documents_url: str = Field("http://127.0.0.1:8002", description="The documents service's internal API")
    documents_timeout_seconds: float = Field(60.0, gt=0, description="Documents stream whole files: allow time")


class DocumentsUnavailable(DependencyUnavailable):
    def __init__(self, detail: str = "the documents service is unavailable") -> None:
        super().__init__(detail, dependency="documents")


class DocumentTooLarge(InvalidRequest):
    problem_type = "document-too-large"
    title = "The document is larger than this service accepts"


class DocumentRefused(InvalidRequest):
    """Documents refused to file a document (an empty file, an unknown account or folder, a type it refuses)."""

    problem_type = "document-refused"
    title = "The documents service refused the document"


class DocumentsApi(Protocol):
    async def document(self, tenant_id: str, document_id: str) -> DocumentView | None: ...

    async def content(self, tenant_id: str, document_id: str, *, max_size: int) -> bytes: ...

    async def file(self, tenant_id: str, *, account_id: str, folder_id: str | None, name: str, content: bytes,
                   idempotency_key: str) -> DocumentView: ...

    async def close(self) -> None: ...


class DocumentsClient:
    """:class:`DocumentsApi` over HTTP."""

    def __init__(self, base_url: str, internal_secret: str, *, timeout_seconds: float = 60.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/") + INTERNAL, timeout=timeout_seconds,
                                       headers={"authorization": f"Bearer {internal_secret}"}, transport=transport)

    @classmethod
    def from_settings(cls, settings: Any) -> DocumentsClient:
        """From a service's settings that mix in :class:`DocumentsClientSettings`."""
        return cls(settings.documents_url, settings.internal_api_secret.get_secret_value(),
                   timeout_seconds=settings.documents_timeout_seconds)

    async def close(self) -> None:
        await self._http.aclose()

    async def document(self, tenant_id: str, document_id: str) -> DocumentView | None:
        """The tenant's document, or None when it has no such document."""
        response = await self._call("GET", _documents(tenant_id, document_id))
        if response.status_code == 200:
            return _view(response)
        if response.status_code == 404:
            return None
        raise _unexpected(response, "document")

    async def content(self, tenant_id: str, document_id: str, *, max_size: int) -> bytes:
        """The document's bytes, read whole: :class:`DocumentTooLarge` past ``max_size`` (checked before reading
        the body, and again while reading it), :class:`NotFound` when the tenant has no such document."""
        path = _documents(tenant_id, document_id) + "/content"
        headers = inject_trace_headers({})
        try:
            async with self._http.stream("GET", path, headers=headers) as response:
                if response.status_code == 404:
                    raise NotFound("no such document", document_id=document_id)
                if response.status_code != 200:
                    _raise_if_unavailable(response)
                    raise _unexpected(response, "content")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_size:
                    raise DocumentTooLarge(f"the document is larger than {max_size} bytes", max_size=max_size)
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > max_size:
                        raise DocumentTooLarge(f"the document is larger than {max_size} bytes", max_size=max_size)
                return bytes(content)
        except httpx.HTTPError as error:
            raise _unreachable(error, "content") from error

    async def file(self, tenant_id: str, *, account_id: str, folder_id: str | None, name: str, content: bytes,
                   idempotency_key: str) -> DocumentView:
        """File ``content`` as a new document of the account; a retry with the same key answers the same one."""
        params = {"account_id": account_id, "name": name} | ({"folder_id": folder_id} if folder_id else {})
        response = await self._call("POST", f"/tenants/{tenant_id}/documents/", params=params, content=content,
                                    headers={"idempotency-key": idempotency_key,
                                             "content-type": "application/octet-stream"})
        if response.status_code == 201:
            return _view(response)
        if response.status_code == 404:
            raise NotFound(_problem(response).get("detail") or "no such account or folder", account_id=account_id)
        if response.status_code in (400, 409, 413, 415, 422):
            problem = _problem(response)
            raise DocumentRefused(f"documents: {problem.get('detail') or 'the document was refused'}",
                                  reason=problem.get("type"))
        raise _unexpected(response, "file")

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs["headers"] = inject_trace_headers(dict(kwargs.get("headers") or {}))  # documents continues the trace
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise _unreachable(error, method) from error
        _raise_if_unavailable(response)
        return response


@asynccontextmanager
async def documents_held(settings: Any, given: DocumentsApi | None = None) -> AsyncIterator[DocumentsApi]:
    """The documents service for the life of a process: ``given`` (tests give the in-memory fake), else a client of
    ``settings`` (mixing in :class:`DocumentsClientSettings`), closed at the end."""
    if given is not None:
        yield given
        return
    client = DocumentsClient.from_settings(settings)
    try:
        yield client
    finally:
        await client.close()


def _documents(tenant_id: str, document_id: str) -> str:
    return f"/tenants/{tenant_id}/documents/{document_id}"


def _raise_if_unavailable(response: httpx.Response) -> None:
    if response.status_code >= 500 or response.status_code == 403:
        # 403: our internal secret is wrong -- an operator's problem, not the caller's.
        log.error("documents service refused or failed", status=response.status_code)
        raise DocumentsUnavailable(f"the documents service answered {response.status_code}")


def _unreachable(error: httpx.HTTPError, operation: str) -> DocumentsUnavailable:
    log.warning("documents service unreachable", operation=operation, error=type(error).__name__)
    return DocumentsUnavailable()


def _view(response: httpx.Response) -> DocumentView:
    try:
        return DocumentView.model_validate_json(response.content)
    except ValidationError as error:
        raise DocumentsUnavailable("the documents service answered something unexpected") from error


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _unexpected(response: httpx.Response, operation: str) -> LoginlessError:
    log.error("documents service answered unexpectedly", operation=operation, status=response.status_code)
    return DocumentsUnavailable(f"the documents service answered {response.status_code} to {operation}")
