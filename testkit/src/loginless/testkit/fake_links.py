"""In-memory stand-ins for the links service and staff API keys, for tests and the benchmark (fakes, not mocks:
they keep state and answer like the real thing)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from loginless.documents.domain import IssuedLink, Recipient
from loginless.documents.ports import LinkAction
from loginless.shared.branding import Branding
from loginless.shared.web.auth import StaffPrincipal


@dataclass
class IssuedRecord:
    link: IssuedLink
    tenant_id: str
    action: LinkAction
    resource_id: str
    recipient: Recipient
    revoked: bool = False


@dataclass
class FakeLinks:
    """Issues links the way the links service does (one per recipient) and remembers them."""

    api_keys: dict[str, StaffPrincipal]
    public_url: str = "http://gateway.test"
    brandings: dict[str, Branding] = field(default_factory=dict)
    issued: dict[str, IssuedRecord] = field(default_factory=dict)
    unavailable: bool = False

    def _tenant(self, authorization: str) -> str:
        from loginless.documents.ports import LinksRefused

        principal = self.api_keys.get(authorization.removeprefix("Bearer ").strip())
        if principal is None:
            raise LinksRefused(401, "links: the API key is not valid")
        return principal.tenant_id

    def _check_up(self) -> None:
        from loginless.shared.errors import DependencyUnavailable

        if self.unavailable:
            raise DependencyUnavailable("the links service is unavailable", dependency="links")

    async def issue(self, *, authorization: str, action: LinkAction, resource_id: str, recipients: list[Recipient],
                    expires_at: datetime, max_uses: int | None = None,
                    idempotency_key: str | None = None) -> list[IssuedLink]:
        self._check_up()
        tenant_id = self._tenant(authorization)
        links = []
        for recipient in recipients:
            link = IssuedLink(link_id=f"lnk_{secrets.token_hex(8)}", email=recipient.email, name=recipient.name,
                              url=f"{self.public_url}/l/{secrets.token_urlsafe(32)}", expires_at=expires_at)
            self.issued[link.link_id] = IssuedRecord(link, tenant_id, action, resource_id, recipient)
            links.append(link)
        return links

    async def revoke(self, *, authorization: str, link_id: str) -> None:
        self._check_up()
        tenant_id = self._tenant(authorization)
        record = self.issued.get(link_id)
        if record is not None and record.tenant_id == tenant_id:
            record.revoked = True

    async def branding(self, tenant_id: str) -> Branding:
        return self.brandings.get(tenant_id, Branding(name="Demo Firm", color="#1f5f8b",
                                                      contact_email="hello@demo-firm.test"))

    def links_for(self, resource_id: str) -> list[IssuedRecord]:
        return [record for record in self.issued.values() if record.resource_id == resource_id]


@dataclass
class FakeApiKeys:
    keys: dict[str, StaffPrincipal]

    async def verify(self, api_key: str) -> StaffPrincipal | None:
        return self.keys.get(api_key)
