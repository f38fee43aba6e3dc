"""A firm's branding as its guests see it: the links service owns it, the guest-facing services read it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Branding(BaseModel):
    """What a firm shows its guests on every page (``GET /internal/v1/tenants/{id}/branding`` of links)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    logo_url: str | None = None
    color: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
