"""A second device resuming a request that asks new devices for a one-time code (``verify_new_devices``), on real
PostgreSQL: the gateway's assertion says whether the browser has proven itself for the link (``device_proven``);
the browser that gives the first answers is told it has (``x-loginless-device-proven``), any other is shown nothing
of the answers until it passes the code (the gateway's verify pages, tested in tests/e2e)."""

from __future__ import annotations

import asyncio

import pytest

from loginless.shared.web.assertion import DEVICE_PROVEN_HEADER

pytestmark = pytest.mark.integration

IBAN = "ES91 2100 0418 4502 0005 1332"


async def test_the_first_browser_is_never_asked_and_another_sees_no_answer_until_it_has_proven_itself(
        harness, client, send):
    sent = await send(verify_new_devices=True, prefill={"full_name": "Ana Prefilled"})
    assert sent.body["verify_new_devices"] is True
    link_id = sent.link_ids[0]
    first = harness.guest_headers(link_id)

    # What the firm prefilled is no answer of the guest's: the first browser opens the request without a code ...
    page = await client.get("/guest/", headers=first)
    assert page.status_code == 200 and "Ana Prefilled" in page.text
    # ... and by giving the first answers it proves itself (the gateway keeps that in its device cookie).
    saved = await client.post("/guest/api/answers", headers=first, json={"answers": {"iban": IBAN}})
    assert saved.status_code == 200, saved.text
    assert saved.headers.get(DEVICE_PROVEN_HEADER) == "1"

    # A second browser (the link forwarded): no answer anywhere, only the page offering the code.
    second = harness.guest_headers(link_id, **{"user-agent": "someone else's phone"})
    page = await client.get("/guest/", headers=second)
    assert page.status_code == 403
    assert f'action="/g/{link_id}/verify/code"' in page.text
    assert IBAN not in page.text and "Ana Prefilled" not in page.text
    for path in ("/guest/review", "/guest/copy"):
        refused = await client.get(path, headers=second)
        assert refused.status_code == 403 and IBAN not in refused.text, path
    api = await client.get("/guest/api/answers", headers=second)
    assert api.status_code == 403 and api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["type"].endswith("device-not-verified") and IBAN not in api.text
    # Nor can it change them, submit them, or add a file to them -- and it is never told it proved itself.
    for call in (client.post("/guest/api/answers", headers=second, json={"answers": {"iban": None}}),
                 client.post("/guest/api/submit", headers=second),
                 client.post("/guest/api/files/payslips?name=a.pdf", headers=second, content=b"%PDF-1.4\n%%EOF\n")):
        refused = await call
        assert refused.status_code == 403, refused.text
        assert DEVICE_PROVEN_HEADER not in refused.headers
    form = await client.post("/guest/", headers=second, data={"present.iban": "", "q.iban": ""})
    assert form.status_code == 403 and IBAN not in form.text

    # Once the code passed in it (the gateway asserts so), it sees them, and can carry on.
    proven = harness.guest_headers(link_id, device_proven=True, **{"user-agent": "someone else's phone"})
    state = (await client.get("/guest/api/answers", headers=proven)).json()
    assert state["answers"]["iban"]["value"] == IBAN  # the refused changes above changed nothing
    saved = await client.post("/guest/api/answers", headers=proven,
                              json={"answers": {"notes": "from the phone"}, "versions": {"notes": 0}})
    assert saved.status_code == 200 and DEVICE_PROVEN_HEADER not in saved.headers
    assert "Ana Prefilled" in (await client.get("/guest/", headers=proven)).text


async def test_of_two_new_browsers_giving_first_answers_at_once_exactly_one_gets_in(harness, client, send):
    sent = await send(verify_new_devices=True)
    link_id = sent.link_ids[0]
    browsers = [harness.guest_headers(link_id, **{"user-agent": f"browser {n}"}) for n in range(2)]
    outcomes = await asyncio.gather(*(
        client.post("/guest/api/answers", headers=headers, json={"answers": {"notes": f"mine, {n}"}})
        for n, headers in enumerate(browsers)))
    assert sorted(o.status_code for o in outcomes) == [200, 403]
    [winner] = [o for o in outcomes if o.status_code == 200]
    assert winner.headers.get(DEVICE_PROVEN_HEADER) == "1"
    state = (await client.get("/guest/api/answers", headers=harness.guest_headers(link_id, device_proven=True))).json()
    assert state["answers"]["notes"]["value"] == winner.json()["answers"]["notes"]["value"]


async def test_with_the_setting_off_any_browser_sees_the_answers_and_none_is_told_to_prove_itself(
        harness, client, send):
    sent = await send()  # verify_new_devices defaults to off
    assert sent.body["verify_new_devices"] is False
    link_id = sent.link_ids[0]
    saved = await client.post("/guest/api/answers", headers=harness.guest_headers(link_id),
                              json={"answers": {"iban": IBAN}})
    assert saved.status_code == 200 and DEVICE_PROVEN_HEADER not in saved.headers
    elsewhere = harness.guest_headers(link_id, **{"user-agent": "another phone"})
    page = await client.get("/guest/", headers=elsewhere)
    assert page.status_code == 200 and IBAN in page.text
