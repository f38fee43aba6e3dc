"""A questionnaire on the running stack: sent through the requests staff API, its link e-mailed by links, opened
through the real gateway in Chromium -- with and without the require-login switch -- answered with every question
type, judged alike by the page and by the server, resumed on a second device, submitted, and read back by staff.
"""

import re
import uuid

import httpx
import pytest

from loginless.testkit.browser import assert_accessible, chromium, guest_page
from loginless.testkit.guests import Guest
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.e2e

FIRM = "Demo Firm"
QUESTIONNAIRE = {"sections": [
    {"id": "about", "title": {"en": "About you", "es": "Sobre usted"}, "questions": [
        {"id": "full_name", "type": "short_text", "label": {"en": "Full name", "es": "Nombre completo"},
         "required": True},
        {"id": "email", "type": "email", "label": {"en": "E-mail", "es": "Correo"}},
        {"id": "phone", "type": "phone", "label": {"en": "Phone", "es": "Teléfono"}},
        {"id": "born", "type": "date", "label": {"en": "Date of birth", "es": "Fecha de nacimiento"}},
        {"id": "nif", "type": "tax_id", "label": {"en": "Tax id", "es": "NIF"}},
        {"id": "iban", "type": "iban", "label": {"en": "IBAN", "es": "IBAN"}},
        {"id": "notes", "type": "long_text", "label": {"en": "Notes", "es": "Notas"}},
    ]},
    {"id": "family", "title": {"en": "Family", "es": "Familia"}, "questions": [
        {"id": "status", "type": "single_choice", "label": {"en": "Marital status", "es": "Estado civil"},
         "options": [{"value": "single", "label": {"en": "Single", "es": "Soltero/a"}},
                     {"value": "married", "label": {"en": "Married", "es": "Casado/a"}}]},
        {"id": "spouse", "type": "short_text", "label": {"en": "Spouse's name", "es": "Cónyuge"},
         "condition": {"question": "status", "equals": "married"}},
        {"id": "has_dependents", "type": "yes_no", "label": {"en": "Any dependents?", "es": "¿Personas a cargo?"}},
        {"id": "dependents", "type": "group", "label": {"en": "Dependent", "es": "Persona a cargo"},
         "condition": {"question": "has_dependents", "equals": True},
         "questions": [{"id": "name", "type": "short_text", "label": {"en": "Name", "es": "Nombre"}}]},
    ]},
    {"id": "money", "title": {"en": "Income", "es": "Ingresos"}, "questions": [
        {"id": "sources", "type": "multiple_choice", "label": {"en": "Sources", "es": "Fuentes"},
         "options": [{"value": "salary", "label": {"en": "Salary"}}, {"value": "rent", "label": {"en": "Rent"}}]},
        {"id": "rent", "type": "currency", "label": {"en": "Rent received", "es": "Alquiler"},
         "condition": {"question": "sources", "includes": "rent"}},
        {"id": "months", "type": "number", "label": {"en": "Months worked", "es": "Meses"}},
        {"id": "region", "type": "dropdown", "label": {"en": "Region", "es": "Región"},
         "options": [{"value": "madrid", "label": {"en": "Madrid"}}, {"value": "other", "label": {"en": "Other"}}]},
        {"id": "payslips", "type": "file", "label": {"en": "Payslips", "es": "Nóminas"}},
    ]},
    {"id": "rental", "title": {"en": "Your rental", "es": "Su alquiler"},
     "condition": {"question": "sources", "includes": "rent"}, "questions": [
        {"id": "address", "type": "short_text", "label": {"en": "Address", "es": "Dirección"}}]},
]}


@pytest.fixture(scope="module")
def desk(stack_env):
    with httpx.Client(base_url=stack_env["REQUESTS_URL"], timeout=30,
                      headers={"Authorization": f"Bearer {stack_env['DEV_API_KEY']}"}) as http:
        yield http


@pytest.fixture(scope="module")
def template_id(desk) -> str:
    created = desk.post("/v1/templates", json={"title": "E2E questionnaire", "definition": QUESTIONNAIRE})
    assert created.status_code == 201, created.text
    return created.json()["template_id"]


def send(desk, template_id: str, *, require_login: bool, verify_new_devices: bool = False) -> tuple[dict, str, str]:
    address = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    sent = desk.post("/v1/requests", json={"template_id": template_id, "require_login": require_login,
                                           "verify_new_devices": verify_new_devices,
                                           "recipients": [{"name": "Ana", "email": address, "language": "en"}]})
    assert sent.status_code == 201, sent.text
    body = sent.json()
    return body, body["recipients"][0]["url"], address


@pytest.fixture(scope="module")
async def browser():
    async with chromium() as launched:
        yield launched


async def shown_on_the_page(page) -> set[str]:
    return set(await page.evaluate("""() => [...document.querySelectorAll('[data-question]')]
        .filter((el) => !el.hidden && !el.closest('[data-section]').hidden).map((el) => el.dataset.question)"""))


async def judged_by_the_server(page) -> set[str]:
    state = await page.evaluate("fetch('api/answers').then((r) => r.json())")
    return {v for v in state["visible"] if not v.startswith("section:")}


async def saved_at(page) -> str:
    """When the script last saved (it marks the form with the time of each save)."""
    return await page.evaluate("document.getElementById('questionnaire').dataset.savedAt || ''")


async def settled(page, before: str) -> None:
    """Wait until the change made since ``before`` is saved."""
    await page.wait_for_function(
        "(before) => (document.getElementById('questionnaire').dataset.savedAt || '') !== before", arg=before)


async def test_the_page_and_the_server_judge_the_same_answers_alike_and_a_second_device_resumes(
        browser, desk, template_id, stack_env):
    body, url, _ = send(desk, template_id, require_login=False)
    async with guest_page(browser) as page:
        await page.goto(url)
        await page.wait_for_selector("form#questionnaire[data-live=ready]")
        assert page.csp_errors == []
        assert await shown_on_the_page(page) == await judged_by_the_server(page)
        steps = [
            lambda: page.fill("#a-full_name", "Ana García"),
            lambda: page.fill("#a-email", "ana@example.com"),
            lambda: page.fill("#a-phone", "+34 600 111 222"),
            lambda: page.fill("#a-born", "1990-05-17"),
            lambda: page.fill("#a-nif", "12345678Z"),
            lambda: page.fill("#a-iban", "ES91 2100 0418 4502 0005 1332"),
            lambda: page.fill("#a-notes", "<b>not bold</b>"),
            lambda: page.check("input[name='q.status'][value='married']"),
            lambda: page.check("input[name='q.has_dependents'][value='yes']"),
            lambda: page.check("input[name='q.sources'][value='rent']"),
            lambda: page.fill("#a-rent", "850.00"),
            lambda: page.fill("#a-months", "11"),
            lambda: page.select_option("#a-region", "madrid"),
            lambda: page.check("input[name='q.status'][value='single']"),
            lambda: page.uncheck("input[name='q.sources'][value='rent']"),
        ]
        for step in steps:
            before = await saved_at(page)
            await step()
            await page.keyboard.press("Tab")  # a text field saves on change, as when the guest moves on
            await settled(page, before)
            assert await shown_on_the_page(page) == await judged_by_the_server(page)
        assert "spouse" not in await shown_on_the_page(page) and "dependents" in await shown_on_the_page(page)

    async with guest_page(browser) as elsewhere:  # another device, the same e-mailed link
        await elsewhere.goto(url)
        assert await elsewhere.input_value("#a-full_name") == "Ana García"
        assert await elsewhere.input_value("#a-iban") == "ES91 2100 0418 4502 0005 1332"
        await elsewhere.check("input[name='q.status'][value='married']")
        assert "spouse" in await shown_on_the_page(elsewhere)
        assert await elsewhere.input_value("#a-rent") == "850.00"  # a hidden answer was kept

    request_id = body["client_request_id"]
    progress = desk.get(f"/v1/requests/{request_id}/answers").json()["recipients"][0]["in_progress"]
    assert progress["notes"]["value"] == "<b>not bold</b>" and progress["rent"]["shown"] is False


async def test_without_require_login_the_link_opens_the_questionnaire_and_it_is_submitted_and_read_back(
        browser, desk, template_id, stack_env):
    body, url, address = send(desk, template_id, require_login=False)
    async with guest_page(browser) as page:
        await page.goto(url)
        await page.fill("#a-full_name", "Ana")
        await page.click("button[value=review]")
        await page.wait_for_url("**/review")
        assert "Ana" in await page.text_content("main")
        await page.click("text=Submit answers")
        await page.wait_for_selector("[data-submitted]")
        cookies = await page.context.cookies()
        await assert_accessible(browser, page.url, cookies=cookies)
    answers = desk.get(f"/v1/requests/{body['client_request_id']}/answers").json()
    assert answers["recipients"][0]["submitted"] == {"full_name": "Ana"}
    request = desk.get(f"/v1/requests/{body['client_request_id']}").json()
    assert request["status"] == "completed"


async def code_in(stack_env, address: str) -> str:
    async with httpx.AsyncClient(base_url=stack_env["MAIL_UI_URL"], timeout=10) as mailpit:
        async def code() -> str | None:
            found = (await mailpit.get("/api/v1/search", params={"query": f"to:{address}"})).json()["messages"]
            for summary in found:
                text = (await mailpit.get(f"/api/v1/message/{summary['ID']}")).json()["Text"]
                if "/l/" not in text and (codes := re.findall(r"\b\d{6}\b", text)):
                    return codes[0]
            return None

        return await eventually(code, timeout=30, message=f"a one-time code e-mailed to {address}")


async def test_with_require_login_the_questionnaire_opens_only_after_the_one_time_code(desk, template_id, stack_env):
    body, url, address = send(desk, template_id, require_login=True)
    guest = Guest(stack_env["GATEWAY_URL"])
    link_id = body["recipients"][0]["link_id"]
    assert guest.open(url).status_code == 200
    before = guest.http.get(f"/g/{link_id}/")
    assert "questionnaire" not in before.text and "E2E questionnaire" not in before.text
    assert guest.http.post(f"/g/{link_id}/verify/code").status_code == 200
    verified = guest.http.post(f"/g/{link_id}/verify", data={"code": await code_in(stack_env, address)})
    assert verified.status_code == 200
    page = guest.http.get(f"/g/{link_id}/")
    assert page.status_code == 200 and 'id="questionnaire"' in page.text and FIRM in page.text


async def test_with_verify_new_devices_a_second_browser_shows_the_answers_only_after_a_code_from_mailpit(
        browser, desk, template_id, stack_env):
    iban = "ES91 2100 0418 4502 0005 1332"
    _, url, address = send(desk, template_id, require_login=False, verify_new_devices=True)
    async with guest_page(browser) as page:  # the first browser: never asked, also when it comes back
        await page.goto(url)
        await page.wait_for_selector("form#questionnaire[data-live=ready]")
        before = await saved_at(page)
        await page.fill("#a-iban", iban)
        await page.keyboard.press("Tab")
        await settled(page, before)
        await page.goto(url)
        assert await page.input_value("#a-iban") == iban

    async with guest_page(browser) as elsewhere:  # the same e-mailed link in another browser
        await elsewhere.goto(url)
        await elsewhere.wait_for_selector("text=Send me a code")
        assert iban not in await elsewhere.content()
        await elsewhere.click("text=Send me a code")
        await elsewhere.wait_for_url("**/verify?sent=1")
        assert iban not in await elsewhere.content()
        await elsewhere.fill("#code", await code_in(stack_env, address))
        await elsewhere.click("button:has-text('Continue')")
        await elsewhere.wait_for_selector("form#questionnaire[data-live=ready]")
        assert await elsewhere.input_value("#a-iban") == iban
        assert elsewhere.csp_errors == []


async def test_the_questionnaire_is_accessible_on_a_phone_in_spanish(browser, desk, template_id):
    _, url, _ = send(desk, template_id, require_login=False)
    async with guest_page(browser) as page:
        await page.goto(url)
        await page.goto(page.url + "?lang=es")
        assert "Sobre usted" in await page.text_content("main")
        cookies = await page.context.cookies()
        await assert_accessible(browser, page.url, cookies=cookies)
        # Keyboard alone: from the skip link to the first question.
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement.id")
        assert focused == "a-full_name"
