"""A firm's branding as its guests see it: its name, logo, colour and contact, on every guest page and message."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ConfigDict


class Branding(BaseModel):
    """What a firm shows its guests on every page (the service that keeps tenants serves it)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    logo_url: str | None = None
    color: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None


class BrandingCache:
    """Firms' branding, each kept ``ttl_seconds`` after it was fetched.

    ``fetch`` answers None when the firm's branding cannot be had right now; the last branding known for that firm is
    then served, however old: branding decorates guest pages, and yesterday's colour beats an error page.
    """

    def __init__(self, fetch: Callable[[str], Awaitable[Branding | None]], *, ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic, max_tenants: int = 10_000) -> None:
        self.fetch = fetch
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.max_tenants = max_tenants
        self._entries: dict[str, tuple[float, Branding]] = {}

    async def get(self, tenant_id: str) -> Branding | None:
        """The firm's branding; None only when it has never been fetched and cannot be now."""
        now = self.clock()
        cached = self._entries.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        fresh = await self.fetch(tenant_id)
        if fresh is None:
            return cached[1] if cached is not None else None
        if len(self._entries) >= self.max_tenants and tenant_id not in self._entries:
            self._entries.clear()  # a crude bound: far more firms than one deployment serves
        self._entries[tenant_id] = (now + self.ttl_seconds, fresh)
        return fresh
