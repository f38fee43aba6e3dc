"""Who is calling: staff (a tenant's API key), another service (the internal secret), or a guest (the gateway's
assertion). Each is a Litestar dependency or guard, so a handler states what it accepts in its signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Protocol

import httpx
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler

from loginless.shared.errors import DependencyUnavailable
from loginless.shared.web.assertion import AssertionVerifier, GuestAssertion, InvalidAssertion


@dataclass(frozen=True)
class StaffPrincipal:
    """A firm's backend, authenticated by one of its tenant's API keys. Every row it touches is scoped by tenant."""

    tenant_id: str
    key_id: str


class ApiKeyVerifier(Protocol):
    async def verify(self, api_key: str) -> StaffPrincipal | None: ...


def bearer_token(connection: ASGIConnection) -> str | None:
    scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


class CachedLinksApiKeyVerifier:
    """Asks the links service (which owns tenants and keys) and remembers answers briefly.

    A revoked key stops working within ``positive_ttl`` seconds everywhere; unknown keys are remembered for
    ``negative_ttl`` so a flood of bad keys does not reach links. Keys are cached by their SHA-256 only.
    """

    def __init__(self, links_url: str, internal_secret: str, *, positive_ttl: float = 30.0,
                 negative_ttl: float = 5.0) -> None:
        self._http = httpx.AsyncClient(base_url=links_url, timeout=5,
                                       headers={"authorization": f"Bearer {internal_secret}"})
        self._positive_ttl, self._negative_ttl = positive_ttl, negative_ttl
        self._cache: dict[bytes, tuple[float, StaffPrincipal | None]] = {}

    async def verify(self, api_key: str) -> StaffPrincipal | None:
        fingerprint = hashlib.sha256(api_key.encode()).digest()
        cached = self._cache.get(fingerprint)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            response = await self._http.post("/internal/v1/api-keys/verify", json={"api_key": api_key})
        except httpx.HTTPError as error:
            raise DependencyUnavailable("cannot verify the API key right now", dependency="links") from error
        if response.status_code == 200:
            body = response.json()
            principal: StaffPrincipal | None = StaffPrincipal(body["tenant_id"], body["key_id"])
            ttl = self._positive_ttl
        elif response.status_code in (401, 404):
            principal, ttl = None, self._negative_ttl
        else:
            raise DependencyUnavailable("cannot verify the API key right now", dependency="links")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[fingerprint] = (time.monotonic() + ttl, principal)
        return principal

    async def close(self) -> None:
        await self._http.aclose()


async def provide_staff(request: Request) -> StaffPrincipal:
    """Dependency ``staff``: the calling tenant, or 401 problem details."""
    api_key = bearer_token(request)
    if api_key is None:
        raise NotAuthorizedException("an API key is required: Authorization: Bearer <key>",
                                     headers={"WWW-Authenticate": "Bearer"})
    principal = await request.app.state.runtime.api_keys.verify(api_key)
    if principal is None:
        raise NotAuthorizedException("the API key is not valid", headers={"WWW-Authenticate": "Bearer"})
    return principal


def provide_guest(request: Request) -> GuestAssertion:
    """Dependency ``guest``: the gateway's assertion about the link the guest holds, or 401."""
    verifier: AssertionVerifier | None = request.app.state.runtime.assertion_verifier
    if verifier is None:  # no gateway key configured: this process accepts no guest traffic at all
        raise InvalidAssertion("guest access is not configured on this service")
    return verifier.from_connection(request)


def internal_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard for ``/internal`` routes: only other loginless services, holding the shared internal secret."""
    expected = connection.app.state.runtime.settings.internal_api_secret.get_secret_value()
    presented = bearer_token(connection) or ""
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise PermissionDeniedException("internal endpoint")
