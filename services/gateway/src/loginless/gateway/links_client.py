"""The links service's internal API, as the gateway uses it.

Every call carries the internal secret. Answers that mean something to a guest become return values or the
exceptions below; anything else (links down, slow, or answering 5xx) is :class:`LinksUnavailable`, which the
gateway shows as a 503 page. The token travels only in the body of ``resolve`` and is never logged here.
"""

from __future__ import annotations

from datetime import datetime

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from loginless.shared.branding import Branding, BrandingCache

log = structlog.get_logger(__name__)


class Recipient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None


class LinkView(BaseModel):
    """A link as links reports it (``LinkView`` of the internal API); unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    link_id: str
    tenant_id: str
    action: str
    resource_id: str
    recipient: Recipient = Recipient()
    expires_at: datetime
    max_uses: int | None = None
    uses: int = 0
    status: str = "active"
    verification: str = "none"
    verification_locked: bool = False
    revoked_at: datetime | None = None


class ClientInfo(BaseModel):
    """Who opened or used a link, for the links service's access records."""

    client_ip: str
    user_agent: str


class LinksUnavailable(Exception):
    """The links service did not answer usefully; nothing can be decided about the link right now."""


class UnknownLink(Exception):
    """No such link (or token): the guest sees the 404 page."""


class LinkGone(Exception):
    """The link exists but is expired, revoked or used up: the guest sees the 410 page."""

    def __init__(self, *, link_id: str | None, tenant_id: str | None, status: str) -> None:
        super().__init__(status)
        self.link_id, self.tenant_id, self.status = link_id, tenant_id, status


class VerificationLocked(Exception):
    """Too many wrong codes: the link takes no more."""


class CodeSentRecently(Exception):
    """A code went out moments ago; links sends no other yet."""


class WrongCode(Exception):
    def __init__(self, attempts_left: int | None) -> None:
        super().__init__(f"wrong code, {attempts_left} attempts left")
        self.attempts_left = attempts_left


class LinksClient:
    def __init__(self, base_url: str, internal_secret: str, *, timeout_seconds: float = 5.0,
                 branding_cache_seconds: float = 300.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout_seconds,
            headers={"authorization": f"Bearer {internal_secret}"},
        )
        self._branding = BrandingCache(self._fetch_branding, ttl_seconds=branding_cache_seconds)

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            log.warning("links service unreachable", operation=f"{method} {path.split('/')[-1]}",
                        error=type(error).__name__)
            raise LinksUnavailable(type(error).__name__) from error
        if response.status_code >= 500 or response.status_code in (401, 403):
            # 401/403 mean our internal secret is wrong: an operator's problem, not the guest's.
            log.error("links service refused or failed", status=response.status_code)
            raise LinksUnavailable(f"links answered {response.status_code}")
        return response

    @staticmethod
    def _view(response: httpx.Response) -> LinkView:
        try:
            return LinkView.model_validate_json(response.content)
        except ValidationError as error:
            raise LinksUnavailable("links answered a link the gateway cannot read") from error

    @staticmethod
    def _gone(response: httpx.Response) -> LinkGone:
        try:
            body = response.json()
        except ValueError:
            body = {}
        # ``link_status``; a links service from before it was renamed put the same word in ``status``.
        status = body.get("link_status") or (body.get("status") if isinstance(body.get("status"), str) else None)
        return LinkGone(link_id=body.get("link_id"), tenant_id=body.get("tenant_id"), status=status or "expired")

    async def resolve(self, token: str) -> LinkView:
        """The link a token opens; :class:`UnknownLink` or :class:`LinkGone` otherwise."""
        response = await self._call("POST", "/internal/v1/links/resolve", json={"token": token})
        if response.status_code == 200:
            return self._view(response)
        if response.status_code == 410:
            raise self._gone(response)
        if response.status_code in (400, 404, 422):
            raise UnknownLink()
        raise LinksUnavailable(f"links answered {response.status_code} to resolve")

    async def get(self, link_id: str) -> LinkView | None:
        response = await self._call("GET", f"/internal/v1/links/{link_id}")
        if response.status_code == 200:
            return self._view(response)
        if response.status_code == 404:
            return None
        raise LinksUnavailable(f"links answered {response.status_code} to get")

    async def record_opened(self, link_id: str, client: ClientInfo) -> None:
        response = await self._call("POST", f"/internal/v1/links/{link_id}/opened", json=client.model_dump())
        if response.status_code >= 300:
            raise LinksUnavailable(f"links answered {response.status_code} to opened")

    async def use(self, link_id: str, client: ClientInfo) -> LinkView:
        """Count one entry through the link; :class:`LinkGone` when it has no uses left (or just expired)."""
        response = await self._call("POST", f"/internal/v1/links/{link_id}/use", json=client.model_dump())
        if response.status_code == 200:
            return self._view(response)
        if response.status_code in (404, 410):
            raise self._gone(response)
        raise LinksUnavailable(f"links answered {response.status_code} to use")

    async def send_verification_code(self, link_id: str) -> None:
        response = await self._call("POST", f"/internal/v1/links/{link_id}/verification-code")
        if response.status_code == 423:
            raise VerificationLocked()
        if response.status_code == 429:
            raise CodeSentRecently()
        if response.status_code == 410:
            raise self._gone(response)
        if response.status_code >= 300:
            raise LinksUnavailable(f"links answered {response.status_code} to verification-code")

    async def check_verification_code(self, link_id: str, code: str) -> None:
        """Returns when the code is right; :class:`WrongCode` or :class:`VerificationLocked` otherwise."""
        response = await self._call("POST", f"/internal/v1/links/{link_id}/verification-code/check",
                                    json={"code": code})
        if response.status_code == 200 and response.json().get("verified") is True:
            return
        if response.status_code == 423:
            raise VerificationLocked()
        if response.status_code == 410:
            raise self._gone(response)
        if response.status_code in (400, 422):
            try:
                attempts_left = response.json().get("attempts_left")
            except ValueError:
                attempts_left = None
            raise WrongCode(attempts_left if isinstance(attempts_left, int) else None)
        raise LinksUnavailable(f"links answered {response.status_code} to verification-code/check")

    async def branding(self, tenant_id: str) -> Branding | None:
        """The firm's branding, cached for a few minutes; None when links cannot tell and never could.

        Branding decorates pages; a page without it is still useful, so failures never raise.
        """
        return await self._branding.get(tenant_id)

    async def _fetch_branding(self, tenant_id: str) -> Branding | None:
        try:
            response = await self._call("GET", f"/internal/v1/tenants/{tenant_id}/branding")
            if response.status_code != 200:
                return None
            return Branding.model_validate_json(response.content)
        except (LinksUnavailable, ValidationError):
            return None
