"""What the HTTP API reads and writes: request bodies and response documents (the OpenAPI schemas), defined once
for links' controllers and for its client (``client.py``).

Other services load this module with the client, so it needs nothing of links at run time but the contract's
vocabulary: the domain and tenant types below are only annotations.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from loginless.events.payloads.links import (
    DeliveryChannel,
    DeliveryStatus,
    GuestAction,
    Language,
    LinkStatus,
    Verification,
)
from loginless.shared.branding import Branding

if TYPE_CHECKING:
    from loginless.links.domain import IssueRequest, Link, Recipient
    from loginless.links.tenants import ApiKeyInfo, Tenant


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- links ------------------------------------------------------------------------------------------------


class RecipientIn(Body):
    name: str | None = Field(None, max_length=1000)
    email: str | None = Field(None, max_length=1000)
    phone: str | None = Field(None, max_length=100)
    language: Language | None = Field(None, description="The recipient's language for messages and pages; absent: "
                                      "their browser's, else English")
    delivery: DeliveryChannel = Field("none", description="How links sends the URL: e-mail, SMS, or not at all")


class IssueLinksIn(Body):
    action: GuestAction
    resource_id: str = Field(max_length=1000, description="The id of the document, signature request, invoice…")
    recipients: list[RecipientIn] = Field(max_length=1000, description="One link is issued for each")
    expires_at: datetime | None = Field(None, description="Give this or expires_in_seconds, or neither for the "
                                        "action's default (sign: 7 days)")
    expires_in_seconds: int | None = None
    max_uses: int | None = Field(None, description="Entries allowed through the gateway; absent: no limit")
    verification: Verification = Field("none", description="A one-time code the guest must enter first")

    def to_domain(self) -> IssueRequest:
        from loginless.links.domain import IssueRequest, RecipientRequest  # links' own side only (see above)

        return IssueRequest(
            action=self.action, resource_id=self.resource_id,
            recipients=tuple(RecipientRequest(**recipient.model_dump()) for recipient in self.recipients),
            expires_at=self.expires_at, expires_in_seconds=self.expires_in_seconds, max_uses=self.max_uses,
            verification=self.verification,
        )


class RecipientView(BaseModel):
    name: str | None
    email: str | None
    phone: str | None
    language: Language | None

    @classmethod
    def of(cls, recipient: Recipient) -> RecipientView:
        return cls(name=recipient.name, email=recipient.email, phone=recipient.phone, language=recipient.language)


class LinkView(BaseModel):
    link_id: str
    tenant_id: str
    action: GuestAction
    resource_id: str
    recipient: RecipientView
    status: LinkStatus
    issued_at: datetime
    expires_at: datetime
    max_uses: int | None
    uses: int
    opens: int
    last_opened_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    verification: Verification
    verification_locked: bool = Field(description="Too many wrong codes: no code is accepted until "
                                                  "verification_locked_until (or a reset by staff)")
    verification_locked_until: datetime | None = Field(
        None, description="While verification_locked: when codes work again")
    delivery: DeliveryChannel
    delivery_status: DeliveryStatus

    @classmethod
    def of(cls, link: Link, now: datetime) -> LinkView:
        return cls(
            link_id=link.link_id, tenant_id=link.tenant_id, action=link.action, resource_id=link.resource_id,
            recipient=RecipientView.of(link.recipient), status=link.status(now), issued_at=link.issued_at,
            expires_at=link.expires_at, max_uses=link.max_uses, uses=link.uses, opens=link.opens,
            last_opened_at=link.last_opened_at, last_used_at=link.last_used_at, revoked_at=link.revoked_at,
            verification=link.verification, verification_locked=link.verification_locked(now),
            verification_locked_until=link.verification_locked_until if link.verification_locked(now) else None,
            delivery=link.delivery, delivery_status=link.delivery_status,
        )


class IssuedLink(BaseModel):
    link_id: str
    url: str = Field(description="The guest's URL. Shown this once: links keeps only a hash of its token")
    recipient: RecipientView
    expires_at: datetime
    delivery: DeliveryChannel
    delivery_status: DeliveryStatus
    status: LinkStatus

    @classmethod
    def of(cls, link: Link, url: str, now: datetime) -> IssuedLink:
        return cls(link_id=link.link_id, url=url, recipient=RecipientView.of(link.recipient),
                   expires_at=link.expires_at, delivery=link.delivery, delivery_status=link.delivery_status,
                   status=link.status(now))


class IssuedLinks(BaseModel):
    links: list[IssuedLink]


class LinkList(BaseModel):
    links: list[LinkView]
    next_cursor: str | None = Field(default=None, description="Pass as ``cursor`` for the next page; null at the end")


class AccessView(BaseModel):
    kind: Literal["opened", "used"]
    at: datetime
    client_ip: str | None
    user_agent: str | None


class AccessList(BaseModel):
    accesses: list[AccessView]
    next_cursor: str | None = Field(default=None, description="Pass as ``cursor`` for the next page; null at the end")


# ---- tenants and API keys ---------------------------------------------------------------------------------


class BrandingFields(Body):
    logo_url: str | None = None
    color: str | None = Field(None, description="#rrggbb")


class ContactFields(Body):
    name: str | None = None
    email: str | None = None
    phone: str | None = None


class TenantPatch(Body):
    """Only the members present change; ``null`` clears one (the name cannot be cleared)."""

    name: str | None = None
    branding: BrandingFields | None = None
    contact: ContactFields | None = None

    def changes(self) -> dict[str, str | None]:
        changes: dict[str, str | None] = {}
        if "name" in self.model_fields_set:
            changes["name"] = self.name
        if self.branding is not None:
            changes |= {name: getattr(self.branding, name) for name in self.branding.model_fields_set}
        if self.contact is not None:
            changes |= {f"contact_{name}": getattr(self.contact, name) for name in self.contact.model_fields_set}
        return changes


class NewTenantIn(Body):
    """A firm's tenant, for the platform API; the profile can be changed later by the tenant (PATCH /v1/tenant)."""

    tenant_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    name: str = Field(min_length=1, max_length=200, description="The firm's name, shown to its guests")
    branding: BrandingFields | None = None
    contact: ContactFields | None = None

    def to_tenant(self) -> Tenant:
        from loginless.links.tenants import Tenant  # the service side only: clients of links import these views

        branding, contact = self.branding or BrandingFields(), self.contact or ContactFields()
        return Tenant(tenant_id=self.tenant_id, name=self.name, logo_url=branding.logo_url, color=branding.color,
                      contact_name=contact.name, contact_email=contact.email, contact_phone=contact.phone)


class TenantView(BaseModel):
    tenant_id: str
    name: str
    branding: BrandingFields
    contact: ContactFields

    @classmethod
    def of(cls, tenant: Tenant) -> TenantView:
        return cls(
            tenant_id=tenant.tenant_id, name=tenant.name,
            branding=BrandingFields(logo_url=tenant.logo_url, color=tenant.color),
            contact=ContactFields(name=tenant.contact_name, email=tenant.contact_email, phone=tenant.contact_phone),
        )


def branding_of(tenant: Tenant) -> Branding:
    """What the gateway and the guest pages show guests about the firm."""
    return Branding(name=tenant.name, logo_url=tenant.logo_url, color=tenant.color, contact_name=tenant.contact_name,
                    contact_email=tenant.contact_email, contact_phone=tenant.contact_phone)


class ApiKeyView(BaseModel):
    key_id: str
    created_at: datetime

    @classmethod
    def of(cls, info: ApiKeyInfo) -> ApiKeyView:
        return cls(key_id=info.key_id, created_at=info.created_at)


class NewApiKey(ApiKeyView):
    api_key: str = Field(description="Shown this once: links keeps only its hash")


class NewTenant(BaseModel):
    tenant: TenantView
    api_key: NewApiKey


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyView]
    next_cursor: str | None = Field(default=None, description="Pass as ``cursor`` for the next page; null at the end")


# ---- internal API -----------------------------------------------------------------------------------------


class ApiKeyIn(Body):
    api_key: str = Field(max_length=1000)


class StaffPrincipalView(BaseModel):
    tenant_id: str
    key_id: str


class TokenIn(Body):
    token: str = Field(max_length=1000)


class ClientIn(Body):
    """The guest's address and user agent as the gateway saw them; kept for the access-record retention.
    Over-long values are cut, not refused: a guest's odd browser must not stop their entry."""

    client_ip: str | None = None
    user_agent: str | None = None


class CodeIn(Body):
    code: str = Field(max_length=100)


class Verified(BaseModel):
    verified: Literal[True] = True

