"""The gateway's signed statement about a guest, and how services check it.

Services never see link tokens. For each proxied guest request the gateway attaches a short-lived JWT
(EdDSA / Ed25519) saying which link the guest holds: its id, tenant, action, resource, recipient and expiry,
with the owning service as audience. Services hold only the public key, so a compromised service cannot mint
assertions for another; they refuse guest traffic without a valid one.

The token is a standard compact JWS, so a service written in any language can check it with its JWT library;
here it is made and checked with PyNaCl (libsodium) rather than PyJWT, because every JOSE library for Python
loads ``cryptography``, whose native module costs each service process about 8 MB of memory. Only one algorithm
is ever accepted, whatever the header says (docs/kernel.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from datetime import datetime
from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ASSERTION_HEADER = "x-loginless-assertion"
FORWARDED_PREFIX_HEADER = "x-forwarded-prefix"
# A service's answer to a guest saying their browser has just proven itself for the link (it gave the link's first
# answers); the gateway turns it into its device cookie, and asserts ``device_proven`` from then on.
DEVICE_PROVEN_HEADER = "x-loginless-device-proven"
ISSUER = "loginless-gateway"
LIFETIME_SECONDS = 60
CLOCK_SKEW_SECONDS = 5
ALGORITHM = "EdDSA"
_HEADER = {"alg": ALGORITHM, "typ": "JWT"}


class GuestAccessSettings(BaseModel):
    """Settings of a service that serves guest pages behind the gateway (mixed into its settings class)."""

    assertion_public_key: str = Field(
        "", description="The gateway's Ed25519 public key (base64 of the raw 32 bytes); empty: no guest traffic")
    trusted_proxy_hops: int = Field(
        1, ge=0, description="Reverse proxies in front of this service whose X-Forwarded-For entries are trusted: "
        "the gateway itself, plus any proxy between it and this service")

    def guest_assertions(self, audience: str) -> AssertionVerifier | None:
        """The verifier of assertions addressed to ``audience`` (the service), if a key is configured."""
        return AssertionVerifier(self.assertion_public_key, audience=audience) if self.assertion_public_key else None


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
    # The guest's browser has proven itself for this link: a one-time code was passed in it, or the owning
    # service said it gave the link's first answers (DEVICE_PROVEN_HEADER). Services that never ask ignore it.
    device_proven: bool = False


class _Claims(BaseModel):
    """The registered claims a verifier insists on, and the link itself."""

    model_config = ConfigDict(strict=True)

    iss: Literal["loginless-gateway"]  # ISSUER
    aud: str
    sub: str
    iat: int
    exp: int
    link: dict[str, Any]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def generate_key_pair() -> tuple[str, str]:
    """A new Ed25519 key pair as (private, public), each base64 of its raw 32 bytes, for settings."""
    private = SigningKey.generate()
    return base64.b64encode(bytes(private)).decode(), base64.b64encode(bytes(private.verify_key)).decode()


class AssertionSigner:
    def __init__(self, private_key_b64: str) -> None:
        self._key = SigningKey(base64.b64decode(private_key_b64))
        self._encoded_header = _b64url(_json(_HEADER))

    def sign(self, assertion: GuestAssertion, *, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": assertion.audience, "sub": assertion.link_id, "iat": issued,
            "exp": issued + LIFETIME_SECONDS,
            "link": assertion.model_dump(mode="json", exclude={"audience"}),
        }
        signing_input = f"{self._encoded_header}.{_b64url(_json(claims))}"
        return f"{signing_input}.{_b64url(self._key.sign(signing_input.encode()).signature)}"


class InvalidAssertion(NotAuthorizedException):
    """401: the request did not come through the gateway, or its assertion is forged, expired or not for us."""


class AssertionVerifier:
    def __init__(self, public_key_b64: str, *, audience: str) -> None:
        self._key = VerifyKey(base64.b64decode(public_key_b64))
        self.audience = audience

    def verify(self, token: str | None) -> GuestAssertion:
        if not token:
            raise InvalidAssertion("guest requests are only accepted through the gateway")
        try:
            claims = self._verified_claims(token)
            return GuestAssertion(**claims.link, audience=self.audience)
        except (BadSignatureError, ValueError, binascii.Error, TypeError, ValidationError) as error:
            raise InvalidAssertion("the gateway assertion is not valid for this service") from error

    def _verified_claims(self, token: str) -> _Claims:
        encoded_header, encoded_claims, encoded_signature = token.split(".")  # ValueError unless three parts
        if json.loads(_from_b64url(encoded_header)) != _HEADER:  # one algorithm; never "none", never HMAC
            raise ValueError("unexpected JOSE header")
        self._key.verify(f"{encoded_header}.{encoded_claims}".encode(), _from_b64url(encoded_signature))
        claims = _Claims.model_validate_json(_from_b64url(encoded_claims))
        now = time.time()
        if claims.aud != self.audience:
            raise ValueError("assertion for another service")
        if not claims.iat - CLOCK_SKEW_SECONDS <= now <= claims.exp + CLOCK_SKEW_SECONDS:
            raise ValueError("assertion expired or not yet valid")
        return claims

    def from_connection(self, connection: ASGIConnection) -> GuestAssertion:
        return self.verify(connection.headers.get(ASSERTION_HEADER))
