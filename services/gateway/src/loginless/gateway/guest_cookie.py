"""The cookie a guest holds instead of the link token: one link, one path, signed, short-lived.

After the first visit the token leaves the browser's address bar; from then on the guest proves they opened the
link with this cookie. It is scoped to ``/g/{link_id}/`` (the browser sends it nowhere else), ``HttpOnly`` (no
script reads it), ``SameSite=Strict`` (no other site can make the browser send it: this is also the CSRF
defence of the guest pages) and ``Secure`` outside local http. Its value names the link, what it grants and
until when, under an HMAC-SHA256 of the gateway's cookie secret; nothing in it is secret, nothing can be changed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from litestar.datastructures import Cookie

COOKIE_NAME = "loginless_link"
# The device proof: a cookie of its own, so entering the link again (which replaces the link's cookie) keeps it.
DEVICE_COOKIE_NAME = "loginless_device"
# Spelt as RFC 6265bis does; Litestar's type lists only "strict", which it would write as "SameSite=strict".
SAME_SITE_STRICT: Literal["strict"] = "Strict"  # type: ignore[assignment]
_VERSION = "v1"
_GENUINE_REMEMBERED = 10_000
# Link ids are URL path segments chosen by the links service; this is what the gateway accepts.
LINK_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Grant(StrEnum):
    VERIFY = "verify"  # opened the link; may only enter a one-time code
    ACCESS = "access"  # let in: may use the owning service's guest pages
    DEVICE = "device"  # this browser proved itself for the link: a one-time code passed here, or it gave the
    # link's first answers (its owning service said so); a service that asks new devices for a code trusts it


@dataclass(frozen=True)
class GuestPass:
    link_id: str
    grant: Grant
    expires_at: int  # unix seconds


def guest_path(link_id: str) -> str:
    """The token-free URL of a link, and the path its cookie is scoped to."""
    return f"/g/{link_id}/"


class GuestCookies:
    """Signs with ``secret``; also accepts what ``previous_secrets`` signed, so the secret can be rotated without
    signing every guest out: a cookie lives at most ``GUEST_SESSION_MAX_SECONDS``, after which an old secret can go."""

    def __init__(self, secret: str, *, secure: bool, previous_secrets: tuple[str, ...] = ()) -> None:
        if len(secret) < 16:
            raise ValueError("GATEWAY_COOKIE_SECRET must be set to 32+ random characters")
        if any(len(previous) < 16 for previous in previous_secrets):
            raise ValueError("each of GATEWAY_PREVIOUS_COOKIE_SECRETS must be 16+ characters, as it once was")
        self._keys = [hashlib.sha256(b"loginless-gateway-cookie\0" + key.encode()).digest()
                      for key in (secret, *previous_secrets)]
        self.secure = secure
        self._genuine: dict[str, GuestPass] = {}  # cookie values whose signature checked out

    @staticmethod
    def _signature(key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, payload, hashlib.sha256).digest()

    def encode(self, guest_pass: GuestPass) -> str:
        payload = f"{_VERSION}|{guest_pass.link_id}|{guest_pass.grant.value}|{guest_pass.expires_at}".encode()
        return f"{_b64(payload)}.{_b64(self._signature(self._keys[0], payload))}"

    def decode(self, value: str | None, *, link_id: str, now: float) -> GuestPass | None:
        """The pass in ``value`` if it is genuine, for ``link_id`` and not expired; else None."""
        if not value:
            return None
        # A guest's browser sends the same cookie with every request of a page: its signature is checked once.
        guest_pass = self._genuine.get(value) or self._verify(value)
        if guest_pass is None or guest_pass.link_id != link_id or guest_pass.expires_at <= now:
            return None
        return guest_pass

    def _verify(self, value: str) -> GuestPass | None:
        if value.count(".") != 1:
            return None
        encoded_payload, encoded_signature = value.split(".")
        try:
            payload, signature = _unb64(encoded_payload), _unb64(encoded_signature)
        except ValueError:
            return None
        if not any(hmac.compare_digest(signature, self._signature(key, payload)) for key in self._keys):
            return None
        try:
            version, cookie_link_id, grant, expires = payload.decode().split("|")
            guest_pass = GuestPass(cookie_link_id, Grant(grant), int(expires))
        except ValueError:
            return None
        if version != _VERSION:
            return None
        if len(self._genuine) >= _GENUINE_REMEMBERED:
            self._genuine.clear()
        self._genuine[value] = guest_pass
        return guest_pass

    def issue(self, link_id: str, grant: Grant, *, now: float, lifetime_seconds: int) -> Cookie:
        """A cookie for ``link_id`` that lives ``lifetime_seconds``.

        It may outlive its link, on purpose: access ends with the link all the same (its state is checked on every
        request), and a guest still on the pages when the link expires is shown the page that says so and names
        the firm, rather than one asking them to open a link they already opened.
        """
        expires_at = int(now) + lifetime_seconds
        value = self.encode(GuestPass(link_id, grant, expires_at))
        # Max-Age for today's browsers, Expires (Litestar takes it in seconds from now) for old ones.
        return Cookie(key=_cookie_name(grant), value=value, path=guest_path(link_id), max_age=lifetime_seconds,
                      expires=lifetime_seconds, httponly=True, secure=self.secure, samesite=SAME_SITE_STRICT)

    def clear(self, link_id: str) -> Cookie:
        """Clears the link's cookie (never the device proof: the browser stays proven if the guest comes back)."""
        return Cookie(key=COOKIE_NAME, value="", path=guest_path(link_id), max_age=0, expires=0, httponly=True,
                      secure=self.secure, samesite=SAME_SITE_STRICT)


def _cookie_name(grant: Grant) -> str:
    return DEVICE_COOKIE_NAME if grant is Grant.DEVICE else COOKIE_NAME


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError("not base64url") from error
