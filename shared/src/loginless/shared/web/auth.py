"""Who is calling: staff (a tenant's API key), another service (the internal secret), or a guest (the gateway's
assertion). Each is a Litestar dependency or guard, so a handler states what it accepts in its signature.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler

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


async def provide_staff(request: Request) -> StaffPrincipal:
    """Dependency ``staff``: the calling tenant, or 401 problem details."""
    api_key = bearer_token(request)
    if api_key is None:
        raise NotAuthorizedException("an API key is required: Authorization: Bearer <key>",
                                     headers={"WWW-Authenticate": "Bearer"})
    verifier: ApiKeyVerifier | None = getattr(request.app.state.runtime.context, "api_keys", None)
    if verifier is None:  # a programming error: a staff route in a service that checks no API keys
        raise NotAuthorizedException("this service has no staff API")
    principal = await verifier.verify(api_key)
    if principal is None:
        raise NotAuthorizedException("the API key is not valid", headers={"WWW-Authenticate": "Bearer"})
    return principal


def provide_guest(request: Request) -> GuestAssertion:
    """Dependency ``guest``: the gateway's assertion about the link the guest holds, or 401."""
    verifier: AssertionVerifier | None = getattr(request.app.state.runtime.context, "guest_assertions", None)
    if verifier is None:  # no gateway key configured: this process accepts no guest traffic at all
        raise InvalidAssertion("guest access is not configured on this service")
    return verifier.from_connection(request)


def internal_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard for ``/internal`` routes: only other loginless services, holding the shared internal secret."""
    expected = connection.app.state.runtime.settings.internal_api_secret.get_secret_value()
    presented = bearer_token(connection) or ""
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise PermissionDeniedException("internal endpoint")
