"""What the documents service needs from outside itself, as small interfaces with their real adapters.

- :class:`Links`: issue and revoke capability links (the links service's staff API, with the caller's own key)
  and read a firm's branding (its internal API).
- :class:`Scanner`: looks at a finished upload before it becomes visible; an antivirus adapter plugs in here.

Tests use the in-memory fakes in :mod:`loginless.testkit.fake_links`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import httpx
import structlog

from loginless.documents.domain import IssuedLink, Recipient
from loginless.shared.branding import Branding, BrandingCache
from loginless.shared.errors import DependencyUnavailable, InvalidRequest, LoginlessError

log = structlog.get_logger(__name__)

LinkAction = Literal["view", "upload"]


class LinksRefused(LoginlessError):
    """The links service refused the request for a reason the caller can fix; its status is passed on."""

    title = "The links service refused the request"
    problem_type = "links-refused"

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status if 400 <= status < 500 else 502


class Links(Protocol):
    async def issue(self, *, authorization: str, action: LinkAction, resource_id: str, recipients: list[Recipient],
                    expires_at: datetime, max_uses: int | None = None,
                    idempotency_key: str | None = None) -> list[IssuedLink]: ...

    async def revoke(self, *, authorization: str, link_id: str) -> None: ...

    async def branding(self, tenant_id: str) -> Branding: ...


class HttpLinks:
    """The links service over HTTP. Staff calls forward the caller's own ``Authorization`` header, so links
    checks the same key and tenant; branding uses the internal secret and is cached briefly."""

    def __init__(self, links_url: str, internal_secret: str, *, branding_ttl: float = 60.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=links_url, timeout=10, transport=transport)
        self._internal_secret = internal_secret
        self._branding = BrandingCache(self._fetch_branding, ttl_seconds=branding_ttl)

    async def issue(self, *, authorization: str, action: LinkAction, resource_id: str, recipients: list[Recipient],
                    expires_at: datetime, max_uses: int | None = None,
                    idempotency_key: str | None = None) -> list[IssuedLink]:
        body: dict = {
            "action": action, "resource_id": resource_id, "expires_at": expires_at.isoformat(),
            "recipients": [{"email": r.email, "delivery": "email",
                            **({"name": r.name} if r.name else {}),
                            **({"language": r.language} if r.language else {})} for r in recipients],
        }
        if max_uses is not None:
            body["max_uses"] = max_uses
        headers = {"authorization": authorization}
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        response = await self._send("POST", "/v1/links", json=body, headers=headers)
        links = response.json()["links"]
        return [IssuedLink(link_id=item["link_id"], url=item["url"], email=item["recipient"].get("email", ""),
                           name=item["recipient"].get("name"), expires_at=datetime.fromisoformat(item["expires_at"]),
                           status=item.get("status", "active")) for item in links]

    async def revoke(self, *, authorization: str, link_id: str) -> None:
        await self._send("POST", f"/v1/links/{link_id}/revoke", headers={"authorization": authorization},
                         accept=frozenset({404, 409, 410}))  # already gone or revoked: the outcome we want

    async def branding(self, tenant_id: str) -> Branding:
        # A stale name and colour beat an error page for a guest; with none known, the page goes without.
        return await self._branding.get(tenant_id) or Branding(name="")

    async def _fetch_branding(self, tenant_id: str) -> Branding | None:
        try:
            response = await self._send("GET", f"/internal/v1/tenants/{tenant_id}/branding",
                                        headers={"authorization": f"Bearer {self._internal_secret}"})
            return Branding.model_validate(response.json())
        except LoginlessError as error:
            log.warning("branding unavailable", tenant_id=tenant_id, error=error.detail)
            return None

    async def _send(self, method: str, path: str, *, accept: frozenset[int] = frozenset(),
                    **kwargs) -> httpx.Response:  # noqa: ANN003
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise DependencyUnavailable("the links service is unavailable", dependency="links") from error
        if response.is_success or response.status_code in accept:
            return response
        if response.status_code >= 500:
            raise DependencyUnavailable("the links service is unavailable", dependency="links")
        detail = _problem_detail(response)
        if response.status_code == 422:
            raise InvalidRequest(f"links: {detail}")
        raise LinksRefused(response.status_code, f"links: {detail}")

    async def close(self) -> None:
        await self._http.aclose()


def _problem_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("detail") or body.get("title") or response.reason_phrase)
    except ValueError:
        return response.reason_phrase


# ---- scanning -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanVerdict:
    clean: bool
    reason: str = ""


ObjectReader = Callable[[], AsyncIterator[bytes]]


class Scanner(Protocol):
    """Runs after the object is complete and verified, before FileUploaded. ``read`` streams the object as
    stored; a scanner that needs no bytes (the default) never calls it."""

    async def scan(self, *, content_type: str, size: int, read: ObjectReader) -> ScanVerdict: ...


class PassThroughScanner:
    """The default: every file is clean. Replace with an antivirus adapter (e.g. clamd's INSTREAM)."""

    async def scan(self, *, content_type: str, size: int, read: ObjectReader) -> ScanVerdict:
        return ScanVerdict(clean=True)
