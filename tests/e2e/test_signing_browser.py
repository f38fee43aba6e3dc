"""The signing page in Debian's Chromium, through the gateway of the running stack: one signer draws on a 375-px
phone, the next signs with the keyboard alone; a decline, a void and a stray link each end on a page that says
why, and so does an expired link. axe-core finds no serious or critical violation on any step, and the page's
CSP blocks nothing it needs."""

from __future__ import annotations

import uuid

import httpx
import pytest

from loginless.testkit.browser import assert_accessible, chromium, guest_page
from loginless.testkit.guests import Firm
from loginless.testkit.waiting import eventually

from .test_signing import link_in_mail, send

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def browser():
    async with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def desk(stack_env) -> httpx.Client:
    with httpx.Client(base_url=stack_env["SIGNING_URL"], timeout=60,
                      headers={"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"}) as client:
        yield client


async def open_link(page, url: str) -> str:  # noqa: ANN001
    opened = await page.goto(url)
    assert opened.status == 200
    await page.wait_for_url("**/g/*/")
    return page.url


async def test_one_signer_draws_on_a_phone_and_the_next_signs_with_the_keyboard_alone(desk, stack_env, browser):
    first, second = (f"signer-{uuid.uuid4().hex[:8]}@example.com" for _ in range(2))
    envelope = send(desk, first, second)

    async with guest_page(browser) as page:  # a 375-px phone
        landed = await open_link(page, link_in_mail(stack_env, first))
        await assert_accessible(browser, landed, cookies=await page.context.cookies())  # the consent step
        await page.get_by_role("button", name="I agree: continue to the documents").click()
        await page.locator("[data-pdf][data-rendered]").wait_for()  # pdf.js drew the PDF the server rendered
        assert await page.locator(".mark").count() == 1  # this signer's signature box, highlighted
        await assert_accessible(browser, landed, cookies=await page.context.cookies())
        pad = page.locator("canvas[data-signature-pad]")
        await pad.scroll_into_view_if_needed()
        box = await pad.bounding_box()
        await page.mouse.move(box["x"] + 20, box["y"] + 60)
        await page.mouse.down()
        for step in range(1, 12):
            await page.mouse.move(box["x"] + 20 + step * 25, box["y"] + 60 + (-1) ** step * 25, steps=3)
        await page.mouse.up()
        assert (await page.locator("[data-drawn]").input_value()).startswith("data:image/png;base64,")
        await page.get_by_role("button", name="Sign", exact=True).click()
        await page.locator("[data-waiting]").wait_for()
        assert page.csp_errors == []

    async with guest_page(browser) as page:
        await open_link(page, link_in_mail(stack_env, second))
        await focus_by_tab(page, "[data-consent]")
        await page.keyboard.press("Enter")
        await page.locator("[data-pdf][data-rendered]").wait_for()
        await focus_by_tab(page, "[data-next-field]")
        await page.keyboard.press("Enter")  # "Next field" takes the keyboard to the first field still empty
        assert await page.evaluate("document.activeElement.id") == "typed"
        await page.keyboard.type("Signer Two")
        await page.keyboard.press("Enter")  # submits the form
        await page.locator("[data-completed], [data-sealing]").first.wait_for()
        assert page.csp_errors == []

    detail = desk.get(f"/v1/envelopes/{envelope['envelope_id']}").json()
    assert [r["status"] for r in detail["recipients"]] == ["signed", "signed"]


async def ended_page(page, url: str) -> str:  # noqa: ANN001
    """Open ``url`` and say which page of an ended envelope it shows: signing's own (why it ended) if the link still
    works, the gateway's if the link was revoked already (the worker revokes the links of an ended envelope)."""
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    text = (await page.locator("main").inner_text()).lower()
    return next((words for words in ("declined", "withdrew", "no longer valid") if words in text), text[:300])


async def focus_by_tab(page, selector: str, *, limit: int = 40) -> None:  # noqa: ANN001
    """Move the focus with Tab alone until it reaches ``selector`` (a keyboard user's only way)."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement?.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


async def test_a_decline_a_void_an_expired_and_a_stray_link_each_end_on_a_page_that_says_why(desk, stack_env, browser):
    decliner, other, voided = (f"signer-{uuid.uuid4().hex[:8]}@example.com" for _ in range(3))
    declined = send(desk, decliner, other, routing="parallel")
    async with guest_page(browser) as page:
        landed = await open_link(page, link_in_mail(stack_env, decliner))
        await page.get_by_role("link", name="Decline to sign").click()
        await page.get_by_label("Your reason").fill("The amount is wrong")
        await assert_accessible(browser, page.url, cookies=await page.context.cookies())
        await page.get_by_role("button", name="Decline").click()
        await page.locator("[data-declined]").wait_for()
        await page.goto(landed)
        assert "You declined to sign" in await page.locator("main").inner_text()
    async with guest_page(browser) as page:  # the other signer finds it stopped: declined, or their link revoked
        assert await ended_page(page, link_in_mail(stack_env, other)) in ("declined", "no longer valid")

    envelope = send(desk, voided)
    url = link_in_mail(stack_env, voided)
    assert desk.post(f"/v1/envelopes/{envelope['envelope_id']}/void", json={"reason": "Sent by mistake"}).status_code \
        == 200
    async with guest_page(browser) as page:
        assert await ended_page(page, url) in ("withdrew", "no longer valid")
        assert "Demo Firm" in await page.locator("main").inner_text()

    # A signing link past its expiry (a short one, issued at links for the test) ends on the page that says so.
    [expiring] = Firm(stack_env).issue("sign", resource_id=envelope["envelope_id"], expires_in_seconds=2)
    async with guest_page(browser) as page:

        async def expired() -> bool:
            await page.goto(expiring.url)
            return "no longer valid" in (await page.locator("main").inner_text()).lower()

        await eventually(expired, timeout=30, interval=0.5, message="the link's expiry")
        assert "Demo Firm" in await page.locator("main").inner_text()
        await assert_accessible(browser, expiring.url)

    # A link to the envelope that is no recipient's (issued at links directly) shows nothing of it.
    [stray] = Firm(stack_env).issue("sign", resource_id=declined["envelope_id"])
    async with guest_page(browser) as page:
        await page.goto(stray.url)
        await page.wait_for_url("**/g/*/")
        await page.wait_for_load_state("networkidle")
        assert "Services agreement" not in await page.content()
        assert "this link is not for signing" not in (await page.content()).lower()  # nor why, in detail
        await assert_accessible(browser, page.url, cookies=await page.context.cookies())
