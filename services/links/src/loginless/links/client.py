"""The links service as the other services call it: one client, owned here beside the API it calls.

Every call goes to links' internal API (``/internal/v1``) with the internal secret; requests and answers are the
models of ``views.py``, the ones links' own controllers serve, so the two cannot drift apart. Answers that mean
something to the caller become return values or the errors below (each a problem the caller's own API can pass
on); anything else -- links down, slow, answering 5xx, or refusing our secret -- is :class:`LinksUnavailable`,
a 503. A token travels only in the body of ``resolve`` and is never logged here.

:class:`LinksApi` is what callers depend on; tests give them the in-memory fake of the test kit, which passes the
same contract suite as this client against the real service.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
import structlog
from pydantic import BaseModel, Field, ValidationError

from loginless.links.errors import (
    LinkGone,
    LinkNotFound,
    LinkNotResendable,
    VerificationCodeTooSoon,
    VerificationLocked,
    VerificationNotRequired,
    WrongVerificationCode,
)
from loginless.links.views import ClientIn, IssuedLinks, IssueLinksIn, LinkView, StaffPrincipalView
from loginless.shared.branding import Branding, BrandingCache
from loginless.shared.errors import DependencyUnavailable, InvalidRequest, NotFound
from loginless.shared.tracing import inject_trace_headers
from loginless.shared.web.assertion import AssertionVerifier, GuestAccessSettings
from loginless.shared.web.auth import StaffPrincipal

log = structlog.get_logger(__name__)

INTERNAL = "/internal/v1"
M = TypeVar("M", bound=BaseModel)


class LinksClientSettings(BaseModel):
    """Settings of a service that calls links (mixed into its settings class: ``<SERVICE>_LINKS_URL``)."""

    links_url: str = Field("http://127.0.0.1:8001", description="The links service's internal API")
    links_timeout_seconds: float = Field(5.0, gt=0)
    branding_cache_seconds: float = Field(300.0, ge=0, description="How long a firm's branding is reused")


# ---- what can go wrong, as problems ------------------------------------------------------------------------
# Links' own domain errors (LinkNotFound, LinkGone, VerificationLocked, VerificationCodeTooSoon,
# VerificationNotRequired, WrongVerificationCode) come back as themselves; these are the client's.


class LinksUnavailable(DependencyUnavailable):
    def __init__(self, detail: str = "the links service is unavailable") -> None:
        super().__init__(detail, dependency="links")


class LinksRefused(InvalidRequest):
    """Links refused a request as invalid (its ``errors`` name the fields)."""

    problem_type = "links-refused"
    title = "The links service refused the request"


# ---- the interface, the client, and the API-key check built on it ----------------------------------------------


class LinksApi(Protocol):
    async def verify_api_key(self, api_key: str) -> StaffPrincipal | None: ...

    async def resolve(self, token: str) -> LinkView: ...

    async def get(self, link_id: str) -> LinkView | None: ...

    async def record_opened(self, link_id: str, client: ClientIn) -> None: ...

    async def use(self, link_id: str, client: ClientIn) -> LinkView: ...

    async def send_verification_code(self, link_id: str) -> None: ...

    async def check_verification_code(self, link_id: str, code: str) -> None: ...

    async def branding(self, tenant_id: str) -> Branding | None: ...

    async def issue(self, tenant_id: str, request: IssueLinksIn, *, idempotency_key: str | None = None,
                    ) -> IssuedLinks: ...

    async def revoke(self, tenant_id: str, link_id: str) -> LinkView: ...

    async def resend(self, tenant_id: str, link_id: str) -> LinkView: ...

    async def close(self) -> None: ...


class LinksClient:
    """:class:`LinksApi` over HTTP."""

    def __init__(self, base_url: str, internal_secret: str, *, timeout_seconds: float = 5.0,
                 branding_cache_seconds: float = 300.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/") + INTERNAL, timeout=timeout_seconds,
                                       headers={"authorization": f"Bearer {internal_secret}"}, transport=transport)
        self._branding = BrandingCache(self._fetch_branding, ttl_seconds=branding_cache_seconds)

    @classmethod
    def from_settings(cls, settings: Any) -> LinksClient:
        """From a service's settings that mix in :class:`LinksClientSettings`."""
        return cls(settings.links_url, settings.internal_api_secret.get_secret_value(),
                   timeout_seconds=settings.links_timeout_seconds,
                   branding_cache_seconds=settings.branding_cache_seconds)

    async def close(self) -> None:
        await self._http.aclose()

    async def verify_api_key(self, api_key: str) -> StaffPrincipal | None:
        response = await self._call("POST", "/api-keys/verify", json={"api_key": api_key})
        if response.status_code == 200:
            view = _model(StaffPrincipalView, response)
            return StaffPrincipal(tenant_id=view.tenant_id, key_id=view.key_id)
        if response.status_code in (401, 422):
            return None
        raise _unexpected(response, "api-keys/verify")

    async def resolve(self, token: str) -> LinkView:
        """The active link a token opens; :class:`LinkNotFound` or :class:`LinkGone` otherwise."""
        response = await self._call("POST", "/links/resolve", json={"token": token})
        if response.status_code == 200:
            return _model(LinkView, response)
        if response.status_code == 410:
            raise _gone(response)
        if response.status_code in (400, 404, 422):
            raise LinkNotFound()
        raise _unexpected(response, "resolve")

    async def get(self, link_id: str) -> LinkView | None:
        response = await self._call("GET", f"/links/{link_id}")
        if response.status_code == 200:
            return _model(LinkView, response)
        if response.status_code == 404:
            return None
        raise _unexpected(response, "get")

    async def record_opened(self, link_id: str, client: ClientIn) -> None:
        response = await self._call("POST", f"/links/{link_id}/opened", json=client.model_dump())
        if response.status_code == 404:
            raise LinkNotFound()
        if response.status_code == 410:
            raise _gone(response)
        if response.status_code != 204:
            raise _unexpected(response, "opened")

    async def use(self, link_id: str, client: ClientIn) -> LinkView:
        """Count one entry through the link; :class:`LinkGone` when it has no uses left (or just expired)."""
        response = await self._call("POST", f"/links/{link_id}/use", json=client.model_dump())
        if response.status_code == 200:
            return _model(LinkView, response)
        if response.status_code == 404:
            raise LinkNotFound()
        if response.status_code == 410:
            raise _gone(response)
        if response.status_code == 423:
            raise _locked(response)
        raise _unexpected(response, "use")

    async def send_verification_code(self, link_id: str) -> None:
        response = await self._call("POST", f"/links/{link_id}/verification-code")
        if response.status_code == 202:
            return
        if response.status_code == 404:
            raise LinkNotFound()
        if response.status_code == 409:
            raise VerificationNotRequired("this link needs no verification code")
        if response.status_code == 410:
            raise _gone(response)
        if response.status_code == 423:
            raise _locked(response)
        if response.status_code == 429:
            raise VerificationCodeTooSoon("wait before asking for another code",
                                   retry_after=_problem(response).get("retry_after"))
        raise _unexpected(response, "verification-code")

    async def check_verification_code(self, link_id: str, code: str) -> None:
        """Returns when the code is right; :class:`WrongVerificationCode` or :class:`VerificationLocked` otherwise."""
        response = await self._call("POST", f"/links/{link_id}/verification-code/check", json={"code": code})
        if response.status_code == 200 and _problem(response).get("verified") is True:
            return
        if response.status_code == 404:
            raise LinkNotFound()
        if response.status_code == 409:
            raise VerificationNotRequired("this link needs no verification code")
        if response.status_code == 410:
            raise _gone(response)
        if response.status_code == 423:
            raise _locked(response)
        if response.status_code in (400, 422):
            attempts_left = _problem(response).get("attempts_left")
            raise WrongVerificationCode(attempts_left if isinstance(attempts_left, int) else None)
        raise _unexpected(response, "verification-code/check")

    async def branding(self, tenant_id: str) -> Branding | None:
        """The firm's branding, cached; the last known one when links cannot answer, None if never known.
        Branding decorates pages, and a page without it is still useful, so this never raises."""
        return await self._branding.get(tenant_id)

    async def _fetch_branding(self, tenant_id: str) -> Branding | None:
        try:
            response = await self._call("GET", f"/tenants/{tenant_id}/branding")
            return _model(Branding, response) if response.status_code == 200 else None
        except LinksUnavailable:
            return None

    async def issue(self, tenant_id: str, request: IssueLinksIn, *, idempotency_key: str | None = None,
                    ) -> IssuedLinks:
        """Issue links for ``tenant_id``; with a key, a repeat (within 24 hours) answers the same links."""
        headers = {"idempotency-key": idempotency_key} if idempotency_key else None
        response = await self._call("POST", f"/tenants/{tenant_id}/links", headers=headers,
                                    json=request.model_dump(mode="json", exclude_unset=True))
        if response.status_code == 201:
            return _model(IssuedLinks, response)
        if response.status_code == 404:
            raise NotFound("links knows no such tenant", tenant_id=tenant_id)
        if response.status_code == 422:
            problem = _problem(response)
            raise LinksRefused(f"links: {problem.get('detail') or 'the request is not valid'}",
                               errors=problem.get("errors"))
        raise _unexpected(response, "issue")

    async def revoke(self, tenant_id: str, link_id: str) -> LinkView:
        """Revoke one of the tenant's links; revoking it again changes nothing."""
        response = await self._call("POST", f"/tenants/{tenant_id}/links/{link_id}/revoke")
        if response.status_code == 200:
            return _model(LinkView, response)
        if response.status_code == 404:
            raise LinkNotFound()
        raise _unexpected(response, "revoke")

    async def resend(self, tenant_id: str, link_id: str) -> LinkView:
        """Have links send one of the tenant's active links again to its recipient (the same URL: no token here).
        :class:`LinkGone` when it ended, :class:`LinkNotResendable` when links never delivered it."""
        response = await self._call("POST", f"/tenants/{tenant_id}/links/{link_id}/resend")
        if response.status_code == 202:
            return _model(LinkView, response)
        if response.status_code == 404:
            raise LinkNotFound()
        if response.status_code == 409:
            raise LinkNotResendable(_problem(response).get("detail") or "the link cannot be sent again")
        if response.status_code == 410:
            raise _gone(response)
        raise _unexpected(response, "resend")

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs["headers"] = inject_trace_headers(dict(kwargs.get("headers") or {}))  # links continues the trace
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            log.warning("links service unreachable", operation=f"{method} {path.rsplit('/', 1)[-1]}",
                        error=type(error).__name__)
            raise LinksUnavailable() from error
        if response.status_code >= 500 or response.status_code == 403:
            # 403: our internal secret is wrong -- an operator's problem, not the caller's.
            log.error("links service refused or failed", status=response.status_code)
            raise LinksUnavailable(f"the links service answered {response.status_code}")
        return response


class LinksApiKeys:
    """Staff API keys, checked by links (which owns tenants and keys) and remembered briefly.

    A revoked key stops working within ``positive_ttl`` seconds everywhere; unknown keys are remembered for
    ``negative_ttl`` so a flood of bad keys does not reach links. Keys are cached by their SHA-256 only.
    """

    def __init__(self, links: LinksApi, *, positive_ttl: float = 30.0, negative_ttl: float = 5.0,
                 max_cached: int = 10_000) -> None:
        self._links = links
        self._positive_ttl, self._negative_ttl, self._max_cached = positive_ttl, negative_ttl, max_cached
        self._cache: dict[bytes, tuple[float, StaffPrincipal | None]] = {}

    async def verify(self, api_key: str) -> StaffPrincipal | None:
        fingerprint = hashlib.sha256(api_key.encode()).digest()
        cached = self._cache.get(fingerprint)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        principal = await self._links.verify_api_key(api_key)
        if len(self._cache) >= self._max_cached:
            self._cache.clear()
        ttl = self._positive_ttl if principal is not None else self._negative_ttl
        self._cache[fingerprint] = (time.monotonic() + ttl, principal)
        return principal


# ---- holding links for the life of a process ------------------------------------------------------------------


@asynccontextmanager
async def links_held(settings: Any, given: LinksApi | None = None) -> AsyncIterator[LinksApi]:
    """The links service for the life of a process: ``given`` (tests give the in-memory fake), else a client of
    ``settings`` (mixing in :class:`LinksClientSettings`), closed at the end."""
    if given is not None:
        yield given
        return
    client = LinksClient.from_settings(settings)
    try:
        yield client
    finally:
        await client.close()


@dataclass(frozen=True)
class LinkedServiceContext:
    """The context of a service whose one neighbour is links (a service whose own pages are not built yet): staff
    keys checked there, guest pages branded from there, the gateway's assertions checked with its key."""

    links: LinksApi
    api_keys: LinksApiKeys
    guest_assertions: AssertionVerifier | None


def linked_service_context(settings: GuestAccessSettings, audience: str, given: LinksApi | None = None):  # noqa: ANN201
    """The app's ``context`` factory of such a service (``audience``: its name, as the gateway's assertions say)."""

    @asynccontextmanager
    async def context(runtime: object) -> AsyncIterator[LinkedServiceContext]:
        async with links_held(settings, given) as links:
            yield LinkedServiceContext(links, LinksApiKeys(links), settings.guest_assertions(audience))

    return context


def _model(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        raise LinksUnavailable("the links service answered something this client cannot read") from error


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _locked(response: httpx.Response) -> VerificationLocked:
    """A 423: the link refuses codes until its pause ends, ``retry_after`` seconds from now."""
    retry_after = _problem(response).get("retry_after")
    return VerificationLocked("too many wrong codes: this link takes codes again later",
                              retry_after=retry_after if isinstance(retry_after, int) else None)


def _gone(response: httpx.Response) -> LinkGone:
    body = _problem(response)
    status = body.get("link_status")
    return LinkGone(link_id=body.get("link_id"), tenant_id=body.get("tenant_id"),
                    link_status=status if isinstance(status, str) else "expired")


def _unexpected(response: httpx.Response, operation: str) -> LinksUnavailable:
    log.error("links service answered unexpectedly", operation=operation, status=response.status_code)
    return LinksUnavailable(f"the links service answered {response.status_code} to {operation}")
