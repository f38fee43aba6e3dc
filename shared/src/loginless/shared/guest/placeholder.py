"""The guest page of a service whose real guest pages are not built yet (signing, payments, requests).

It is a real guest page all the same -- the firm's branding, Spanish or English, the link's reference and
expiry -- and it shows that the gateway's assertion arrived and was verified for this service: without a valid
one the request is refused (401) before the handler runs. The resource shown is always the assertion's,
whatever the path says.
"""

from __future__ import annotations

from typing import Protocol

from litestar import Controller, MediaType, Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from litestar.types import ControllerRouterHandler

from loginless.shared.branding import Branding
from loginless.shared.guest.i18n import N_
from loginless.shared.guest.language import language_of
from loginless.shared.guest.pages import NO_STORE, forwarded_prefix, guest_asset_routes, page_context
from loginless.shared.web.assertion import GuestAssertion

HEADINGS = {
    "sign": N_("Sign a document"),
    "pay": N_("Pay an invoice"),
    "request": N_("Answer a request"),
    "view": N_("View a document"),
    "upload": N_("Send documents"),
}
DEFAULT_HEADING = N_("Your secure link")


class BrandingSource(Protocol):
    """Where a service gets a firm's branding: the links client (``LinksApi``) has this method."""

    async def branding(self, tenant_id: str) -> Branding | None: ...


def placeholder_pages(service: str) -> list[ControllerRouterHandler]:
    """The routes of ``service``'s placeholder page and the kit's assets; the app needs
    :func:`~loginless.shared.guest.pages.guest_template_config`, and its context a ``links`` branding source."""

    class GuestPlaceholderController(Controller):
        path = "/guest"
        include_in_schema = False

        @get(["/", "/{rest:path}"], media_type=MediaType.HTML)
        async def landing(self, request: Request, guest: NamedDependency[GuestAssertion]) -> Template:
            links: BrandingSource = request.app.state.runtime.context.links
            branding = await links.branding(guest.tenant_id)
            context = page_context(
                language=language_of(request, recipient=guest.recipient.language), branding=branding,
                asset_prefix=forwarded_prefix(request), service=service,
                heading=HEADINGS.get(guest.action, DEFAULT_HEADING), link_id=guest.link_id,
                resource_id=guest.resource_id, expires_at=guest.link_expires_at)
            return Template("guest/placeholder.html", context=context, headers=NO_STORE)

    return [GuestPlaceholderController, *guest_asset_routes("/guest")]
