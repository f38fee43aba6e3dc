"""The gateway's signed statement about a guest, and how services check it.

Services never see link tokens. For each proxied guest request the gateway attaches a short-lived JWT
(EdDSA / Ed25519) saying which link the guest holds: its id, tenant, action, resource, recipient and expiry,
with the owning service as audience. Services hold only the public key, so a compromised service cannot mint
assertions for another; they refuse guest traffic without a valid one.
"""

from __future__ import annotations

import base64
import time
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from pydantic import BaseModel, ValidationError

ASSERTION_HEADER = "x-loginless-assertion"
FORWARDED_PREFIX_HEADER = "x-forwarded-prefix"
ISSUER = "loginless-gateway"
LIFETIME_SECONDS = 60
ALGORITHM = "EdDSA"


class GuestRecipient(BaseModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None


class GuestAssertion(BaseModel):
    link_id: str
    tenant_id: str
    action: str
    resource_id: str
    recipient: GuestRecipient
    link_expires_at: datetime
    audience: str


def generate_key_pair() -> tuple[str, str]:
    """A new Ed25519 key pair as (private, public), each base64 of its raw 32 bytes, for settings."""
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
    raw_public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw_private).decode(), base64.b64encode(raw_public).decode()


class AssertionSigner:
    def __init__(self, private_key_b64: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_key_b64))

    def sign(self, assertion: GuestAssertion, *, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": assertion.audience, "sub": assertion.link_id, "iat": issued,
            "exp": issued + LIFETIME_SECONDS,
            "link": assertion.model_dump(mode="json", exclude={"audience"}),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


class InvalidAssertion(NotAuthorizedException):
    """401: the request did not come through the gateway, or its assertion is forged, expired or not for us."""


class AssertionVerifier:
    def __init__(self, public_key_b64: str, *, audience: str) -> None:
        self._key: Ed25519PublicKey = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        self.audience = audience

    def verify(self, token: str | None) -> GuestAssertion:
        if not token:
            raise InvalidAssertion("guest requests are only accepted through the gateway")
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM], audience=self.audience, issuer=ISSUER,
                                options={"require": ["exp", "iat", "aud", "iss", "sub"]}, leeway=5)
            return GuestAssertion(**claims["link"], audience=self.audience)
        except (jwt.InvalidTokenError, KeyError, TypeError, ValidationError) as error:
            raise InvalidAssertion("the gateway assertion is not valid for this service") from error

    def from_connection(self, connection: ASGIConnection) -> GuestAssertion:
        return self.verify(connection.headers.get(ASSERTION_HEADER))
