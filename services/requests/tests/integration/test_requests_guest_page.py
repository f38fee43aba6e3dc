"""The requests service's guest page (the guest-page kit's placeholder until its own pages exist): in the recipient's
language, Spanish or English, with the firm's branding, and only for the gateway's guests."""

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from loginless.requests.bootstrap import create_app
from loginless.requests.settings import RequestsSettings
from loginless.testkit.guest_pages import BrandingOnlyLinks, schema_of_its_own, through_the_gateway

pytestmark = pytest.mark.integration


@pytest.fixture
async def requests(database_url, assertion_keys) -> AsyncIterator[AsyncTestClient]:
    async with schema_of_its_own(database_url, "requests") as schema:
        settings = RequestsSettings(
            database_url=database_url, database_schema=schema, kafka_bootstrap_servers="127.0.0.1:1",
            assertion_public_key=assertion_keys[1], log_level="WARNING",
        )
        async with AsyncTestClient(create_app(settings, links=BrandingOnlyLinks())) as http:
            yield http


@pytest.mark.parametrize(("language", "heading", "sent_by", "valid_until"), [
    ("en", "Answer a request", "Ortega &amp; Lane sent you this secure link.", "March 12, 2026 at 09:05 UTC"),
    ("es", "Responder a una solicitud", "Ortega &amp; Lane le ha enviado este enlace seguro.",
     "12 de marzo de 2026 a las 09:05 UTC"),
])
async def test_the_guest_page_speaks_the_recipients_language_with_the_firms_branding(
    requests, assertion_keys, language, heading, sent_by, valid_until,
):
    headers = through_the_gateway(assertion_keys[0], audience="requests", action="request", language=language)
    page = await requests.get("/guest/", headers={**headers, "accept-language": "de"})
    assert page.status_code == 200
    assert f'<html lang="{language}">' in page.text
    assert f'<h1 data-service="requests">{heading}</h1>' in page.text
    assert sent_by in page.text and valid_until in page.text
    assert '<span class="firm-name">Ortega &amp; Lane</span>' in page.text
    assert 'href="/g/lnk_test/brand/0b6e4f.css"' in page.text and 'href="mailto:desk@ortega-lane.test"' in page.text
    assert "<code data-resource-id>res-1</code>" in page.text


async def test_the_guest_page_needs_the_gateways_assertion_for_this_service(requests, assertion_keys):
    elsewhere = through_the_gateway(assertion_keys[0], audience="documents", action="request", language="en")
    assert (await requests.get("/guest/")).status_code == 401
    assert (await requests.get("/guest/", headers=elsewhere)).status_code == 401


async def test_the_pages_stylesheets_are_served_beside_it(requests):
    assert (await requests.get("/guest/static/guest.css")).status_code == 200
    brand = await requests.get("/guest/brand/0b6e4f.css")
    assert brand.text == ":root { --brand: #0b6e4f; --brand-text: #ffffff; }\n"
