"""The guest's network address, for rate limits and access records, behind any number of trusted proxies.

Each reverse proxy appends the address it received the request from to ``X-Forwarded-For``, so the list is read
from the right: with ``trusted_proxy_hops`` proxies of ours in front, the entry that many places from the end is
the address the outermost of them saw. Entries further left came with the request and anyone can write them.
A service behind the gateway counts the gateway itself as one hop (``GuestAccessSettings.trusted_proxy_hops``).
"""

from __future__ import annotations

from litestar.types import Scope

_MAX_ADDRESS_LENGTH = 64  # an IPv6 address with a zone fits; anything longer is not an address


def client_address(scope: Scope, *, trusted_proxy_hops: int) -> str:
    """The guest's address: the peer's with no trusted proxy, else the one the outermost trusted proxy saw."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if trusted_proxy_hops <= 0:
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", ()):
        if name.lower() == b"x-forwarded-for":
            forwarded += [part.strip() for part in value.decode("latin-1").split(",") if part.strip()]
    if not forwarded:
        return peer
    # Fewer entries than trusted proxies: one of them did not add its own; the leftmost is then the farthest seen.
    address = forwarded[-trusted_proxy_hops] if len(forwarded) >= trusted_proxy_hops else forwarded[0]
    return address[:_MAX_ADDRESS_LENGTH]
