"""Asking a service for its guest pages as the gateway would, without the gateway: an assertion signed here, the
gateway's prefix, and a stand-in for the one thing guest pages ask the links service (a firm's branding)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
from litestar import Litestar

from loginless.shared.branding import Branding
from loginless.shared.web.assertion import (
    ASSERTION_HEADER,
    FORWARDED_PREFIX_HEADER,
    AssertionSigner,
    GuestAssertion,
    GuestRecipient,
)
from loginless.testkit.fake_links import FakeLinks

FIRM = Branding(name="Ortega & Lane", color="#0b6e4f", contact_name="Front desk",
                contact_email="desk@ortega-lane.test", contact_phone="+34 600 111 222")
TENANT_ID = "tenant-1"
LINK_EXPIRES_AT = datetime(2026, 3, 12, 9, 5, tzinfo=UTC)


def links_knowing_the_firm(firm: Branding = FIRM, tenant_id: str = TENANT_ID) -> FakeLinks:
    """links as guest pages use it: ``firm``'s branding, and no other firm's."""
    links = FakeLinks()
    links.add_tenant(tenant_id, firm.name, logo_url=firm.logo_url, color=firm.color, contact_name=firm.contact_name,
                     contact_email=firm.contact_email, contact_phone=firm.contact_phone)
    return links


def through_the_gateway(private_key: str, *, audience: str, action: str, language: str | None,
                        resource_id: str = "res-1", tenant_id: str = TENANT_ID,
                        link_id: str = "lnk_test") -> dict[str, str]:
    """The headers the gateway adds to a guest's request for ``audience``'s pages."""
    assertion = AssertionSigner(private_key).sign(GuestAssertion(
        link_id=link_id, tenant_id=tenant_id, action=action, resource_id=resource_id,
        recipient=GuestRecipient(language=language), link_expires_at=LINK_EXPIRES_AT, audience=audience))
    return {ASSERTION_HEADER: assertion, FORWARDED_PREFIX_HEADER: f"/g/{link_id}"}


@asynccontextmanager
async def schema_of_its_own(database_url: str, service: str) -> AsyncIterator[str]:
    """A schema name for one test's service (its app creates it), dropped afterwards."""
    name = f"{service}_t{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await connection.close()


def placeholder_service(*, audience: str, database_url: str, schema: str, assertion_public_key: str,
                        links: FakeLinks) -> Litestar:
    """A service that serves only the guest-page kit's placeholder page, as ``audience`` (the service the gateway
    routes to): for the gateway's own tests, which need a service's page behind it but no service's features."""
    from typing import ClassVar

    from pydantic_settings import SettingsConfigDict

    from loginless.links.client import LinksClientSettings, linked_service_context
    from loginless.shared.guest.pages import guest_template_config
    from loginless.shared.guest.placeholder import placeholder_pages
    from loginless.shared.settings import ServiceSettings
    from loginless.shared.web import create_service_app
    from loginless.shared.web.assertion import GuestAccessSettings

    class PlaceholderSettings(ServiceSettings, LinksClientSettings, GuestAccessSettings):
        model_config = SettingsConfigDict(env_prefix="PLACEHOLDER_", extra="ignore", frozen=True)
        service_name: ClassVar[str] = audience

    settings = PlaceholderSettings(database_url=database_url, database_schema=schema,
                                   kafka_bootstrap_servers="127.0.0.1:1", assertion_public_key=assertion_public_key,
                                   log_level="WARNING")
    return create_service_app(settings, route_handlers=placeholder_pages(audience), description="placeholder",
                              context=linked_service_context(settings, audience, links),
                              template_config=guest_template_config())
