"""Signed one-click unsubscribe links (RFC 8058) for owner alerts and digests.

The token names the tenant and the address and is signed with HMAC-SHA256, so nothing is stored per mail and
nobody can unsubscribe an address from a link they made up. It does not expire: an unsubscribe link in an old
mail must still work. It opens nothing but the unsubscribe itself, so it is no capability worth guarding more.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UnsubscribeLinks:
    def __init__(self, key: bytes, public_url: str) -> None:
        if not key:
            raise ValueError("NOTIFICATIONS_UNSUBSCRIBE_SECRET (or the internal API secret) is required")
        self._key = hashlib.sha256(b"loginless unsubscribe\0" + key).digest()
        self._base = f"{public_url.rstrip('/')}/unsubscribe/"

    def url_for(self, tenant_id: str, address: str) -> str:
        payload = _encode(json.dumps([tenant_id, address.lower()], separators=(",", ":")).encode())
        return f"{self._base}{payload}.{self._signature(payload)}"

    def read(self, token: str) -> tuple[str, str] | None:
        """The (tenant, address) a token of ours names; None for anything else."""
        payload, _, signature = token.partition(".")
        if not payload or not hmac.compare_digest(signature.encode(), self._signature(payload).encode()):
            return None
        try:
            tenant_id, address = json.loads(_decode(payload))
        except (binascii.Error, ValueError, TypeError):
            return None
        return (tenant_id, address) if isinstance(tenant_id, str) and isinstance(address, str) else None

    def _signature(self, payload: str) -> str:
        return _encode(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())
