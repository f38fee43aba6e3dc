"""The guest-page kit's placeholder page (what a service shows before its own pages exist), served as each guest
action's service: in the recipient's language, Spanish or English, with the firm's branding, and only for the
gateway's guests of that very service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from loginless.testkit.guest_pages import (
    links_knowing_the_firm,
    placeholder_service,
    schema_of_its_own,
    through_the_gateway,
)

pytestmark = pytest.mark.integration

# service -> (its guest action, the page's heading in English and in Spanish)
SERVICES = {
    "signing": ("sign", "Sign a document", "Firmar un documento"),
    "payments": ("pay", "Pay an invoice", "Pagar una factura"),
    "requests": ("request", "Answer a request", "Responder a una solicitud"),
}


@pytest.fixture(params=sorted(SERVICES))
async def service(request, database_url, assertion_keys) -> AsyncIterator[tuple[str, AsyncTestClient]]:
    name = request.param
    async with schema_of_its_own(database_url, name) as schema:
        app = placeholder_service(audience=name, database_url=database_url, schema=schema,
                                  assertion_public_key=assertion_keys[1], links=links_knowing_the_firm())
        async with AsyncTestClient(app) as http:
            yield name, http


@pytest.mark.parametrize(("language", "sent_by", "valid_until"), [
    ("en", "Ortega &amp; Lane sent you this secure link.", "March 12, 2026 at 09:05 UTC"),
    ("es", "Ortega &amp; Lane le ha enviado este enlace seguro.", "12 de marzo de 2026 a las 09:05 UTC"),
])
async def test_the_guest_page_speaks_the_recipients_language_with_the_firms_branding(
        service, assertion_keys, language, sent_by, valid_until):
    name, http = service
    action, english, spanish = SERVICES[name]
    headers = through_the_gateway(assertion_keys[0], audience=name, action=action, language=language)
    page = await http.get("/guest/", headers={**headers, "accept-language": "de"})
    assert page.status_code == 200
    assert f'<html lang="{language}">' in page.text
    assert f'<h1 data-service="{name}">{english if language == "en" else spanish}</h1>' in page.text
    assert sent_by in page.text and valid_until in page.text
    assert '<span class="firm-name">Ortega &amp; Lane</span>' in page.text
    assert 'href="/g/lnk_test/brand/0b6e4f.css"' in page.text and 'href="mailto:desk@ortega-lane.test"' in page.text
    assert "<code data-resource-id>res-1</code>" in page.text


async def test_the_guest_page_needs_the_gateways_assertion_for_this_service(service, assertion_keys):
    name, http = service
    elsewhere = through_the_gateway(assertion_keys[0], audience="documents", action=SERVICES[name][0], language="en")
    assert (await http.get("/guest/")).status_code == 401
    assert (await http.get("/guest/", headers=elsewhere)).status_code == 401


async def test_the_pages_stylesheets_are_served_beside_it(service):
    _, http = service
    assert (await http.get("/guest/static/guest.css")).status_code == 200
    brand = await http.get("/guest/brand/0b6e4f.css")
    assert brand.text == ":root { --brand: #0b6e4f; --brand-text: #ffffff; }\n"
