"""The questionnaire without JavaScript: one form, saved with each button, the server deciding what it shows;
then the review, the submission and the read-only page. In Spanish and English."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _fields(page: str) -> dict[str, str]:
    """What the browser would post back untouched: the hidden fields (versions, presence, counts)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


def _shown(page: str) -> set[str]:
    return {m for m in re.findall(r'data-question="([a-z_]+)" data-type="[a-z_]+"(?=>)', page)}


async def _post(client, headers, page: str, **values: str):  # noqa: ANN001, ANN202
    action = values.pop("action", "save")
    data = {**_fields(page), **values, "action": action}
    return await client.post("/guest/", headers=headers, data=data, files={"f.none": ("", b"")},
                             follow_redirects=False)


async def test_without_javascript_the_server_shows_what_the_answers_call_for_on_each_save(harness, client, send):
    sent = await send()
    headers = harness.guest_headers(sent.link_ids[0])
    page = (await client.get("/guest/", headers=headers)).text
    assert "spouse_name" not in _shown(page) and "full_name" in _shown(page)
    saved = await _post(client, headers, page, **{"q.full_name": "Ana", "q.status": "married"})
    assert saved.status_code == 303 and saved.headers["location"] == f"/g/{sent.link_ids[0]}/"
    page = (await client.get("/guest/", headers=headers)).text
    assert "spouse_name" in _shown(page)
    assert 'value="Ana"' in page


async def test_without_javascript_a_repeating_group_grows_and_shrinks_with_its_buttons(harness, client, send):
    sent = await send()
    headers = harness.guest_headers(sent.link_ids[0])
    page = (await client.get("/guest/", headers=headers)).text
    await _post(client, headers, page, **{"q.has_dependents": "yes"})
    page = (await client.get("/guest/", headers=headers)).text
    assert "dependents" in _shown(page)
    await _post(client, headers, page, action="add-item:dependents")
    page = (await client.get("/guest/", headers=headers)).text
    await _post(client, headers, page, action="add-item:dependents", **{"g.dependents.0.name": "Leo"})
    page = (await client.get("/guest/", headers=headers)).text
    assert 'name="g.dependents.1.name"' in page
    await _post(client, headers, page, action="remove-item:dependents:0", **{
        "g.dependents.0.name": "Leo", "g.dependents.1.name": "Mía"})
    state = (await client.get("/guest/api/answers", headers=headers)).json()
    assert state["answers"]["dependents"]["value"] == [{"name": "Mía", "born": None}]


async def test_without_javascript_a_bad_answer_comes_back_named_on_the_page_and_nothing_is_saved(
        harness, client, send):
    sent = await send()
    headers = harness.guest_headers(sent.link_ids[0])
    page = (await client.get("/guest/", headers=headers)).text
    refused = await _post(client, headers, page, **{"q.full_name": "Ana", "q.iban": "ES00 1234"})
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text and "este IBAN no es válido" in refused.text  # the recipient's language
    assert (await client.get("/guest/api/answers", headers=headers)).json()["answers"] == {}


async def test_without_javascript_a_file_is_uploaded_with_the_form_and_submitted_after_review(
        harness, client, send):
    sent = await send()
    headers = harness.guest_headers(sent.link_ids[0])
    page = (await client.get("/guest/", headers=headers)).text
    data = {**_fields(page), "q.full_name": "Ana", "q.tax_id": "12345678Z", "action": "review"}
    reviewed = await client.post("/guest/", headers=headers, data=data,
                                 files={"f.payslips": ("enero.pdf", PDF, "application/pdf")},
                                 follow_redirects=False)
    assert reviewed.status_code == 303 and reviewed.headers["location"].endswith("/review")
    review = await client.get("/guest/review", headers=headers)
    assert "enero.pdf" in review.text and "Ana" in review.text
    done = await client.post("/guest/submit", headers=headers, follow_redirects=False)
    assert done.status_code == 303
    page = await client.get("/guest/", headers=headers)
    assert "data-submitted" in page.text and "<form" not in page.text


async def test_the_page_speaks_the_recipients_language_with_the_firms_words_in_it(harness, client, send):
    sent = await send()
    spanish = await client.get("/guest/", headers=harness.guest_headers(sent.link_ids[0]))
    assert '<html lang="es">' in spanish.text and "Sobre usted" in spanish.text
    english = await client.get("/guest/?lang=en", headers=harness.guest_headers(sent.link_ids[0]))
    assert '<html lang="en">' in english.text and "About you" in english.text
    assert "Demo Firm" in english.text
