"""A guest answering through the gateway's assertion, on real PostgreSQL and S3: autosave, resume, conditions,
repeating groups, files, conflicts between devices, submission -- and every bad input refused with nothing saved."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _state(client, headers) -> dict:
    response = await client.get("/guest/api/answers", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _save(client, headers, answers, versions=None):  # noqa: ANN001, ANN202
    return await client.post("/guest/api/answers", headers=headers,
                             json={"answers": answers, "versions": versions or {}})


@pytest.fixture
async def guest(harness, send):  # noqa: ANN201
    sent = await send()
    return sent, harness.guest_headers(sent.link_ids[0])


async def test_answers_are_saved_as_given_and_resumed_from_another_device(harness, client, guest):
    sent, headers = guest
    assert (await _save(client, headers, {"full_name": "  Ana  ", "notes": "línea 1\nlínea 2"})).status_code == 200
    elsewhere = harness.guest_headers(sent.link_ids[0], **{"user-agent": "another phone"})
    state = await _state(client, elsewhere)
    assert state["answers"]["full_name"] == {"value": "  Ana  ", "version": 1}
    assert state["answers"]["notes"]["value"] == "línea 1\nlínea 2"


async def test_answers_to_hidden_questions_are_kept_while_editing_and_dropped_at_submission(client, guest):
    _, headers = guest
    await _save(client, headers, {"full_name": "Ana", "tax_id": "12345678Z", "status": "married",
                                  "spouse_name": "Luis", "has_dependents": True,
                                  "dependents": [{"name": "Leo", "born": "2019-04-01"}]})
    state = (await _save(client, headers, {"status": "single", "has_dependents": False})).json()
    assert "spouse_name" not in state["visible"] and "dependents" not in state["visible"]
    assert state["answers"]["spouse_name"]["value"] == "Luis"  # kept: flipping back loses nothing
    state = (await _save(client, headers, {"status": "married"})).json()
    assert "spouse_name" in state["visible"] and state["answers"]["spouse_name"]["value"] == "Luis"

    await _save(client, headers, {"status": "single"})
    submitted = await client.post("/guest/api/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    answers = submitted.json()["answers"]
    assert "spouse_name" not in answers and "dependents" not in answers
    assert answers["status"]["value"] == "single"


async def test_a_required_question_shown_by_a_condition_must_be_answered_to_submit(client, guest):
    _, headers = guest
    await _save(client, headers, {"full_name": "Ana", "tax_id": "12345678Z", "status": "married",
                                  "has_dependents": True, "dependents": [{"name": ""}, {"name": "Leo"}]})
    refused = await client.post("/guest/api/submit", headers=headers)
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.json()["errors"]}
    assert fields == {"answers.spouse_name", "answers.dependents.0.name"}
    assert (await _state(client, headers))["status"] != "submitted"


@pytest.mark.parametrize(("answers", "field", "words"), [
    ({"no_such_question": "x"}, "answers.no_such_question", "no such question"),
    ({"months_worked": "twelve"}, "answers.months_worked", "expected a number"),
    ({"months_worked": 13}, "answers.months_worked", "at most 12"),
    ({"iban": "ES91 2100 0418 4502 0005 1333"}, "answers.iban", "not a valid IBAN"),
    ({"tax_id": "12345678A"}, "answers.tax_id", "not a valid tax id"),
    ({"birth_date": "31/12/1990"}, "answers.birth_date", "YYYY-MM-DD"),
    ({"status": "widowed"}, "answers.status", "not one of the options"),
    ({"notes": "x" * 1_000_000}, "answers.notes", "at most 10000 characters"),
    ({"dependents": [{"name": "Leo", "age": 3}]}, "answers.dependents.0", "does not ask"),
    ({"payslips": [{"file_id": "fil_not_mine"}]}, "answers.payslips", "no such file"),
])
async def test_a_bad_answer_is_refused_naming_its_field_and_nothing_of_the_save_is_kept(
        client, guest, answers, field, words):
    _, headers = guest
    response = await _save(client, headers, {"full_name": "Ana", **answers})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert any(e["field"] == field and words in e["message"] for e in errors), errors
    assert "full_name" not in (await _state(client, headers))["answers"]  # nothing half-saved


async def test_script_in_a_text_answer_is_shown_escaped(client, guest):
    _, headers = guest
    await _save(client, headers, {"full_name": "<script>alert(1)</script>", "tax_id": "12345678Z"})
    page = await client.get("/guest/", headers=headers)
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    review = await client.get("/guest/review", headers=headers)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in review.text and "<script>alert(1)" not in review.text


async def test_two_devices_editing_the_same_answer_the_second_save_is_refused_with_the_current_answer(
        client, guest):
    _, headers = guest
    first = (await _save(client, headers, {"full_name": "Ana", "notes": "v1"})).json()
    seen = {q: a["version"] for q, a in first["answers"].items()}
    assert (await _save(client, headers, {"notes": "from the phone"}, {"notes": seen["notes"]})).status_code == 200
    stale = await _save(client, headers, {"notes": "from the laptop", "full_name": "Ana G."},
                        {"notes": seen["notes"], "full_name": seen["full_name"]})
    assert stale.status_code == 409
    assert stale.json()["conflicts"]["notes"] == {"value": "from the phone", "version": 2}
    state = await _state(client, headers)
    assert state["answers"]["notes"]["value"] == "from the phone" and state["answers"]["full_name"]["value"] == "Ana"
    # Another question than the one changed elsewhere saves, on its own version.
    assert (await _save(client, headers, {"full_name": "Ana G."}, {"full_name": seen["full_name"]})).status_code == 200


async def test_of_saves_racing_on_one_answer_from_the_same_version_exactly_one_wins(client, guest):
    _, headers = guest
    await _save(client, headers, {"notes": "start"})
    results = await asyncio.gather(*(_save(client, headers, {"notes": f"device {i}"}, {"notes": 1})
                                     for i in range(4)))
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409]


async def test_a_submitted_request_refuses_further_answers_with_a_clear_message(client, guest):
    _, headers = guest
    await _save(client, headers, {"full_name": "Ana", "tax_id": "12345678Z"})
    assert (await client.post("/guest/api/submit", headers=headers)).status_code == 200
    refused = await _save(client, headers, {"full_name": "Other"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == "these answers were submitted; they can no longer be changed"
    assert (await client.post("/guest/api/submit", headers=headers)).status_code == 409
    page = await client.get("/guest/", headers=headers)
    assert "Download a copy" in page.text or "Descargar una copia" in page.text
    copy = await client.get("/guest/copy", headers=headers)
    assert copy.status_code == 200 and "attachment" in copy.headers["content-disposition"]
    assert "Ana" in copy.text


async def test_files_are_staged_within_the_questions_limits_and_listed_in_the_completion(
        harness, client, tenant, guest):
    sent, headers = guest
    uploaded = await client.post("/guest/api/files/payslips?name=payslip%20jan.pdf", headers=headers, content=PDF)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["content_type"] == "application/pdf"
    too_big = await client.post("/guest/api/files/payslips?name=big.pdf", headers=headers,
                                content=PDF + b"0" * 100_001)
    assert too_big.status_code == 422 and too_big.json()["field"] == "answers.payslips"
    wrong_type = await client.post("/guest/api/files/payslips?name=page.html", headers=headers,
                                   content=b"<html><script>alert(1)</script></html>")
    assert wrong_type.status_code == 422
    not_a_file_question = await client.post("/guest/api/files/full_name?name=a.pdf", headers=headers, content=PDF)
    assert not_a_file_question.status_code == 422

    state = await _state(client, headers)
    assert state["answers"]["payslips"]["value"] == [{"file_id": uploaded.json()["file_id"]}]
    await _save(client, headers, {"full_name": "Ana", "tax_id": "12345678Z"})
    assert (await client.post("/guest/api/submit", headers=headers)).status_code == 200
    [completed] = [row for row in await harness.events(tenant.tenant_id, "ClientRequestCompleted")
                   if row["stream_id"] == sent.request_id]
    import json
    data = json.loads(completed["data"])
    assert data["files"][0]["file_name"] == "payslip jan.pdf" and data["files"][0]["size"] == len(PDF)
    assert data["answers"]["payslips"] == [{"file_id": uploaded.json()["file_id"]}]
    assert data["link_id"] == sent.link_ids[0] and data["respondent_email"] == "ana@example.test"


async def test_large_answers_travel_as_a_reference_rather_than_inline(harness, client, tenant, guest):
    sent, headers = guest
    notes = "x" * 9000
    app_limit = harness.settings.answers_in_event_limit
    assert len(notes) < app_limit  # one answer is small; the rule is about the whole
    await _save(client, headers, {"full_name": "Ana", "tax_id": "12345678Z", "notes": notes})
    ctx = harness.context(settings=harness.settings.model_copy(update={"answers_in_event_limit": 1000}))
    from loginless.requests import handlers
    from loginless.shared.eventstore import Cause
    await handlers.submit(ctx, harness.assertion(sent.link_ids[0]), cause=Cause("test"))
    [completed] = [row for row in await harness.events(tenant.tenant_id, "ClientRequestCompleted")
                   if row["stream_id"] == sent.request_id]
    import json
    data = json.loads(completed["data"])
    assert "answers" not in data or data["answers"] is None
    assert data["answers_url"] == f"/v1/requests/{sent.request_id}/answers"
