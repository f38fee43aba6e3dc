"""Guests in Debian's Chromium, driven by Playwright, on the gateway's own pages and, through it, on a service's
page built with the guest-page kit: under the gateway's real CSP, on a 375-px phone, axe-clean, in both languages,
with the switcher's choice carried from the gateway's pages to the service's and back."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from loginless.gateway.guest_cookie import Grant
from loginless.shared.branding import Branding
from loginless.testkit.browser import assert_accessible, chromium, guest_page
from loginless.testkit.fake_services import serve
from loginless.testkit.guest_pages import links_knowing_the_firm, placeholder_service, schema_of_its_own
from loginless.testkit.network import free_port

pytestmark = pytest.mark.e2e

FIRM = Branding(name="Acme Tax Advisors", color="#0a7c52", contact_email="help@acme.example",
                contact_phone="+34 600 111 222")
SERVICES = {"view": "documents", "upload": "documents", "sign": "signing", "pay": "payments", "request": "requests"}


@pytest.fixture(scope="module")
async def browser():
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def gateway(start_gateway, database_url, assertion_keys) -> AsyncIterator:
    """The gateway with a service's page behind it for ``sign`` links (the kit's placeholder page, served as
    signing; the echo service for the rest)."""
    port = free_port()
    routes = {action: {"service": service, "url": f"http://127.0.0.1:{port}" if service == "signing"
                       else f"http://127.0.0.1:1/{service}"} for action, service in SERVICES.items()}
    async with schema_of_its_own(database_url, "signing") as schema:
        signing = placeholder_service(audience="signing", database_url=database_url, schema=schema,
                                      assertion_public_key=assertion_keys[1], links=links_knowing_the_firm(FIRM))
        async with serve(signing, port=port), start_gateway(routes=routes) as running:
            yield running


async def test_the_gateways_own_pages_are_accessible_on_a_phone_in_both_languages(gateway, browser):
    expired_token, _ = gateway.links.add_link(expires_in=timedelta(hours=1))
    gateway.links.clock.advance(hours=2)
    confirm_token, _ = gateway.links.add_link(max_uses=3)
    _, verifying = gateway.links.add_link(verification="email")
    name, value = gateway.cookie_for(verifying.link_id, Grant.VERIFY).split("=", 1)
    for language in ("en", "es"):
        for path in ("/l/not-a-token", f"/l/{expired_token}", f"/l/{confirm_token}", "/g/lnk_nobody/"):
            await assert_accessible(browser, f"{gateway.url}{path}?lang={language}")
        await assert_accessible(browser, f"{gateway.url}/g/{verifying.link_id}/verify?lang={language}", cookies=[
            {"name": name, "value": value, "url": f"{gateway.url}/g/{verifying.link_id}/"}])


async def test_a_guest_switches_to_spanish_on_the_services_page_and_the_gateways_pages_follow(gateway, browser):
    token, link = gateway.links.add_link(action="sign", language="en")
    async with guest_page(browser) as page:
        await page.goto(f"{gateway.url}/l/{token}")
        await page.wait_for_url(f"**/g/{link.link_id}/")
        assert await page.locator("html").get_attribute("lang") == "en"
        assert await page.locator("h1").inner_text() == "Sign a document"
        # The firm's colour reached the masthead through the brand stylesheet, with white text on it.
        colours = await page.locator(".masthead").evaluate(
            "element => [getComputedStyle(element).backgroundColor, getComputedStyle(element).color]")
        assert colours == ["rgb(10, 124, 82)", "rgb(255, 255, 255)"]

        await page.get_by_role("link", name="Español").click()
        await page.wait_for_url("**?lang=es")
        assert await page.locator("h1").inner_text() == "Firmar un documento"
        await page.goto(f"{gateway.url}/g/{link.link_id}/anything-else")  # no ?lang= any more: remembered
        assert await page.locator("html").get_attribute("lang") == "es"

        # The gateway's own 410 page, in the language chosen on the service's.
        await gateway.link_states.merge(type(await gateway.link_states.get(link.link_id))(
            link_id=link.link_id, tenant_id=link.tenant_id, revoked_at=datetime.now(UTC)))
        gone = await page.goto(f"{gateway.url}/g/{link.link_id}/")
        assert gone.status == 410
        assert "Acme Tax Advisors ha retirado este enlace." in await page.locator("main").inner_text()
        assert page.csp_errors == []


async def test_the_services_page_is_accessible_on_a_phone_in_both_languages(gateway, browser):
    token, link = gateway.links.add_link(action="sign")
    async with guest_page(browser) as page:
        await page.goto(f"{gateway.url}/l/{token}")
        await page.wait_for_url(f"**/g/{link.link_id}/")
        cookies = await page.context.cookies()
        assert page.csp_errors == []
    for language in ("en", "es"):
        await assert_accessible(browser, f"{gateway.url}/g/{link.link_id}/?lang={language}", cookies=cookies)
