"""The staff API on real PostgreSQL and S3: templates and their versions, sending, prefill, reading answers,
sending back, cancelling, the CSV export, and the read models a rebuild reproduces."""

from __future__ import annotations

import csv
import io

import pytest

pytestmark = pytest.mark.integration


async def test_a_template_is_checked_when_saved_and_a_bad_condition_is_named(client, tenant):
    definition = {"sections": [{"id": "a", "title": {"en": "A"}, "questions": [
        {"id": "first", "type": "short_text", "label": {"en": "First"},
         "condition": {"question": "later", "equals": "x"}},
        {"id": "later", "type": "short_text", "label": {"en": "Later"}}]}]}
    response = await client.post("/v1/templates", headers=tenant.headers,
                                  json={"title": "Broken", "definition": definition})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "not a question asked before it" in response.text
    assert response.json()["errors"][0]["field"] == "definition"
    assert "question first" in response.json()["errors"][0]["message"]


async def test_a_new_version_leaves_requests_already_sent_on_theirs(client, tenant, send, tax_return):
    sent = await send()
    changed = {"sections": [{**tax_return["sections"][0], "questions": tax_return["sections"][0]["questions"][:2]}]}
    version = await client.post(f"/v1/templates/{sent.template_id}/versions", headers=tenant.headers,
                                json={"title": "2026 tax return", "definition": changed})
    assert version.status_code == 201 and version.json()["version"] == 2
    request = (await client.get(f"/v1/requests/{sent.request_id}", headers=tenant.headers)).json()
    assert request["template_version"] == 1 and request["title"] == "2025 tax return"
    first = (await client.get(f"/v1/templates/{sent.template_id}?version=1", headers=tenant.headers)).json()
    assert len(first["definition"]["sections"]) == 3


async def test_each_recipient_gets_a_link_of_their_own_by_e_mail_and_require_login_asks_for_a_code(
        harness, send):
    sent = await send(require_login=True, recipients=[
        {"name": "Ana", "email": "ana@example.test"}, {"name": "Bank", "email": "banker@example.test"}])
    assert len(set(sent.link_ids)) == 2
    links = [harness.links.state_of(link_id) for link_id in sent.link_ids]
    assert {link.verification for link in links} == {"email"}
    assert {link.delivery for link in links} == {"email"}
    assert {link.action for link in links} == {"request"}
    assert {link.resource_id for link in links} == {sent.request_id}
    assert all(r["url"] for r in sent.body["recipients"])


async def test_without_require_login_the_link_alone_opens_the_request(harness, client, send):
    sent = await send(require_login=False)
    assert harness.links.state_of(sent.link_ids[0]).verification == "none"
    page = await client.get("/guest/", headers=harness.guest_headers(sent.link_ids[0]))
    assert page.status_code == 200 and "2025 tax return" in page.text


async def test_prefill_from_the_api_and_from_last_years_answers(harness, client, tenant, send):
    first = await send(account_id="acc_1", prefill={"full_name": "Ana García", "tax_id": "12345678Z"})
    headers = harness.guest_headers(first.link_ids[0])
    state = (await client.get("/guest/api/answers", headers=headers)).json()
    assert state["answers"]["full_name"]["value"] == "Ana García"
    saved = await client.post("/guest/api/answers", headers=headers,
                              json={"answers": {"iban": "ES91 2100 0418 4502 0005 1332"}})
    assert saved.status_code == 200, saved.text
    assert (await client.post("/guest/api/submit", headers=headers)).status_code == 200

    again = await client.post("/v1/requests", headers=tenant.headers, json={
        "template_id": first.template_id, "account_id": "acc_1", "require_login": False, "prefill_from_last": True,
        "prefill": {"full_name": "Ana García López"},
        "recipients": [{"name": "Ana", "email": "ANA@example.test"}]})
    assert again.status_code == 201, again.text
    link_id = again.json()["recipients"][0]["link_id"]
    answers = (await client.get("/guest/api/answers", headers=harness.guest_headers(link_id))).json()["answers"]
    assert answers["full_name"]["value"] == "Ana García López"  # what the firm gives wins over last year's
    assert answers["iban"]["value"] == "ES91 2100 0418 4502 0005 1332"


async def test_a_prefill_of_an_unknown_question_or_a_wrong_type_is_refused_and_nothing_is_sent(
        client, tenant, send, harness):
    sent = await send()
    before = len(await harness.events(tenant.tenant_id, "ClientRequestSent"))
    response = await client.post("/v1/requests", headers=tenant.headers, json={
        "template_id": sent.template_id, "require_login": False, "recipients": [{"email": "x@example.test"}],
        "prefill": {"nope": 1, "months_worked": "twelve"}})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"prefill.nope", "prefill.months_worked"}
    assert len(await harness.events(tenant.tenant_id, "ClientRequestSent")) == before


async def test_staff_see_answers_in_progress_send_back_with_comments_and_read_the_submission(
        harness, client, tenant, send):
    sent = await send()
    headers = harness.guest_headers(sent.link_ids[0])
    await client.post("/guest/api/answers", headers=headers, json={"answers": {"full_name": "Ana"}})
    progress = (await client.get(f"/v1/requests/{sent.request_id}/answers", headers=tenant.headers)).json()
    in_progress = progress["recipients"][0]["in_progress"]
    assert in_progress["full_name"]["value"] == "Ana" and in_progress["full_name"]["shown"] is True

    await client.post("/guest/api/answers", headers=headers, json={"answers": {"tax_id": "12345678Z"}})
    assert (await client.post("/guest/api/submit", headers=headers)).status_code == 200
    recipient_id = sent.body["recipients"][0]["recipient_id"]
    back = await client.post(f"/v1/requests/{sent.request_id}/recipients/{recipient_id}/send-back",
                             headers=tenant.headers, json={"comments": {"full_name": "Your full name, please"}})
    assert back.status_code == 200, back.text
    assert back.json()["recipients"][0]["status"] == "sent_back"
    page = await client.get("/guest/", headers=headers)
    assert "Your full name, please" in page.text
    await client.post("/guest/api/answers", headers=headers, json={"answers": {"full_name": "Ana García"}})
    assert (await client.post("/guest/api/submit", headers=headers)).status_code == 200
    answers = (await client.get(f"/v1/requests/{sent.request_id}/answers", headers=tenant.headers)).json()
    assert answers["recipients"][0]["submitted"] == {"full_name": "Ana García", "tax_id": "12345678Z"}
    kinds = [row["type"].split(".")[2] for row in await harness.events(tenant.tenant_id)
             if row["stream_id"] == sent.request_id]
    # Opened when the page was first shown (after the send-back), not by the script's saves before it.
    assert kinds == ["ClientRequestSent", "RequestLinkIssued", "ClientRequestCompleted", "RequestSentBack",
                     "RequestOpened", "ClientRequestCompleted"]


async def test_a_cancelled_request_refuses_its_guests_and_revokes_their_links(harness, client, tenant, send):
    sent = await send()
    cancelled = await client.post(f"/v1/requests/{sent.request_id}/cancel", headers=tenant.headers,
                                  json={"reason": "sent by mistake"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert harness.links.state_of(sent.link_ids[0]).status == "revoked"
    headers = harness.guest_headers(sent.link_ids[0])
    refused = await client.post("/guest/api/answers", headers=headers, json={"answers": {"full_name": "Ana"}})
    assert refused.status_code == 409 and "cancelled" in refused.json()["detail"]
    page = await client.get("/guest/", headers=headers)
    assert "This request was cancelled" in page.text or "Esta solicitud fue cancelada" in page.text


async def test_the_csv_export_has_a_row_per_submission_and_a_column_per_question(harness, client, tenant, send):
    sent = await send()
    headers = harness.guest_headers(sent.link_ids[0])
    await client.post("/guest/api/answers", headers=headers, json={"answers": {
        "full_name": "=HYPERLINK(\"http://evil\")", "tax_id": "12345678Z", "sources": ["salary", "rent"],
        "rent_amount": "900.50", "has_dependents": True, "dependents": [{"name": "Leo", "born": "2019-04-01"}]}})
    for name in ("nómina enero.pdf", "febrero.pdf"):
        uploaded = await client.post("/guest/api/files/payslips", params={"name": name}, headers=headers,
                                     content=b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
        assert uploaded.status_code == 201, uploaded.text
    assert (await client.post("/guest/api/submit", headers=headers)).status_code == 200
    export = await client.get(f"/v1/templates/{sent.template_id}/answers.csv", headers=tenant.headers)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == 1
    assert rows[0]["full_name"].startswith("'=")  # never a formula in the firm's spreadsheet
    assert rows[0]["sources"] == "salary; rent" and rows[0]["rent_amount"] == "900.50"
    assert rows[0]["has_dependents"] == "yes" and "Leo" in rows[0]["dependents"]
    assert rows[0]["payslips"] == "nómina enero.pdf; febrero.pdf"  # the files' names, not their ids


async def test_another_tenants_request_is_not_found(client, send, harness):
    sent = await send()
    other = harness.new_tenant()
    assert (await client.get(f"/v1/requests/{sent.request_id}", headers=other.headers)).status_code == 404
    assert (await client.get(f"/v1/templates/{sent.template_id}", headers=other.headers)).status_code == 404


async def test_sending_again_with_the_same_idempotency_key_sends_once(client, tenant, send, harness):
    sent = await send()
    body = {"template_id": sent.template_id, "require_login": False, "recipients": [{"email": "x@example.test"}]}
    headers = {**tenant.headers, "Idempotency-Key": "send-1"}
    first = await client.post("/v1/requests", headers=headers, json=body)
    second = await client.post("/v1/requests", headers=headers, json=body)
    assert first.status_code == 201 and second.headers.get("idempotent-replayed") == "true"
    assert first.json()["client_request_id"] == second.json()["client_request_id"]


async def test_a_rebuild_of_the_read_model_finds_every_row_equal(harness, client, tenant, send):
    await client.post("/v1/accounts/acc_r/contacts", headers=tenant.headers, json={"email": "r@example.test"})
    await send()
    ctx = harness.context()
    tables = ("template_versions", "client_requests", "request_recipients", "contacts")

    async def rows() -> dict[str, list]:
        return {table: [dict(r) for r in await harness.pool.fetch(
            f'SELECT * FROM "{harness.settings.schema}".{table} ORDER BY 1, 2')] for table in tables}

    before = await rows()
    await ctx.projections.rebuild()
    assert await rows() == before


async def test_a_request_goes_to_the_accounts_contacts_each_with_a_link_of_their_own(harness, client, tenant, send):
    added = []
    for contact in ({"name": "Ana", "email": "ana@example.test", "role": "client", "language": "es"},
                    {"name": "Luis", "email": "luis@bank.test", "role": "banker"}):
        response = await client.post("/v1/accounts/acc_9/contacts", headers=tenant.headers, json=contact)
        assert response.status_code == 201, response.text
        added.append(response.json()["contact_id"])
    listed = (await client.get("/v1/accounts/acc_9/contacts", headers=tenant.headers)).json()["contacts"]
    assert [c["role"] for c in listed] == ["client", "banker"]
    sent = await send(account_id="acc_9", recipients=[{"contact_id": added[0]}, {"contact_id": added[1]}])
    assert [r["email"] for r in sent.body["recipients"]] == ["ana@example.test", "luis@bank.test"]
    assert harness.links.state_of(sent.link_ids[1]).recipient.email == "luis@bank.test"
    # Each answers for themselves: Luis's answers are not Ana's.
    await client.post("/guest/api/answers", headers=harness.guest_headers(sent.link_ids[1]),
                      json={"answers": {"full_name": "Luis"}})
    ana = (await client.get("/guest/api/answers", headers=harness.guest_headers(sent.link_ids[0]))).json()
    assert "full_name" not in ana["answers"]


async def test_a_contact_of_another_account_is_not_a_recipient(client, tenant, send):
    other = await client.post("/v1/accounts/acc_other/contacts", headers=tenant.headers,
                              json={"email": "x@example.test"})
    template = await send()
    response = await client.post("/v1/requests", headers=tenant.headers, json={
        "template_id": template.template_id, "account_id": "acc_mine", "require_login": False,
        "recipients": [{"contact_id": other.json()["contact_id"]}]})
    assert response.status_code == 404
