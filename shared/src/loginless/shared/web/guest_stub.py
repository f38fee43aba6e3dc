"""A minimal guest page for services whose real guest pages are not built yet.

It proves the gateway's assertion arrived and was verified for this service, and nothing more: without a valid
assertion the request is refused (401) before this handler runs.
"""

from __future__ import annotations

from litestar import Controller, MediaType, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from markupsafe import escape

from loginless.shared.web.assertion import GuestAssertion

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{service}</title></head>
<body><main>
<h1>{service}</h1>
<p>Link <code data-link-id>{link_id}</code> verified by {service}:
 action <code data-action>{action}</code> on resource <code data-resource-id>{resource_id}</code>
 for tenant <code data-tenant-id>{tenant_id}</code>.</p>
<p>Requested path: <code data-path>/{path}</code></p>
</main></body></html>
"""


def guest_stub_controller(service: str) -> type[Controller]:
    class GuestStubController(Controller):
        path = "/guest"
        include_in_schema = False

        @get(["/", "/{rest:path}"], media_type=MediaType.HTML)
        async def landing(self, guest: NamedDependency[GuestAssertion], rest: FromPath[str] = "") -> str:
            return _PAGE.format(
                service=escape(service), link_id=escape(guest.link_id), action=escape(guest.action),
                resource_id=escape(guest.resource_id), tenant_id=escape(guest.tenant_id),
                path=escape(rest.lstrip("/")),
            )

    return GuestStubController
