"""Templates keep documents, roles and fields for reuse; a bulk send makes one envelope per CSV row with the row's
values merged into the sender's fields, reports every row, and refuses a CSV that is too big or lacks columns."""

from __future__ import annotations

import base64
import csv
import io

import pytest

from .conftest import CONTRACT

pytestmark = pytest.mark.integration


def template_body(**overrides) -> dict:  # noqa: ANN003
    return {
        "name": "Engagement letter", "title": "Engagement letter 2026", "expires_in_days": 14,
        "documents": [{"name": "engagement.pdf", "content_base64": base64.b64encode(CONTRACT).decode()}],
        "roles": [{"role_id": "client", "role": "signer", "group": 1},
                  {"role_id": "partner", "role": "signer", "group": 2}],
        "fields": [{"role": "client", "kind": "signature", "page": 1, "x": 72, "y": 100},
                   {"role": "partner", "kind": "signature", "page": 1, "x": 320, "y": 100},
                   {"field_id": "fee", "role": "sender", "kind": "number", "page": 1, "x": 72, "y": 600,
                    "width": 120, "height": 20}],
        **overrides}


def csv_of(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def a_template(client, tenant) -> dict:  # noqa: ANN001
    created = await client.post("/v1/templates", json=template_body(), headers=tenant.headers)
    assert created.status_code == 201, created.text
    return created.json()


async def test_an_envelope_from_a_template_has_its_roles_and_the_senders_value_drawn_in(client, harness, tenant):
    template = await a_template(client, tenant)
    assert template["merge_fields"] == ["fee"] and [r["role_id"] for r in template["roles"]] == ["client", "partner"]

    made = await client.post(f"/v1/templates/{template['template_id']}/envelopes", headers=tenant.headers, json={
        "recipients": {"client": {"name": "Ana Ortiz", "email": "ana@example.test"},
                       "partner": {"name": "Bea Ruiz", "email": "bea@example.test"}},
        "values": {"fee": "1200"}})

    assert made.status_code == 201, made.text
    envelope = made.json()
    assert [(r["name"], r["group"], r["status"]) for r in envelope["recipients"]] == [
        ("Ana Ortiz", 1, "pending"), ("Bea Ruiz", 2, "waiting")]
    ana = harness.guest_headers(harness.link_of(envelope["envelope_id"], "ana@example.test"))
    shown = await client.get("/guest/documents/0", headers=ana)
    assert shown.content != CONTRACT  # the first signer reads the letter with the fee filled in
    from loginless.signing.pdf import find_anchors

    assert find_anchors(shown.content, "1200")


async def test_a_bulk_send_of_fifty_rows_makes_fifty_envelopes_and_reports_the_bad_row(client, harness, tenant):
    template = await a_template(client, tenant)
    rows = [{"client.name": f"Client {n}", "client.email": f"client{n}@example.test", "partner.name": "Bea Ruiz",
             "partner.email": "bea@example.test", "fee": str(100 + n)} for n in range(50)]
    rows[7]["client.email"] = "not an address"

    answer = await client.post(f"/v1/templates/{template['template_id']}/bulk-send", content=csv_of(rows),
                               headers={**tenant.headers, "content-type": "text/csv"})

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["sent"], report["failed"]) == (49, 1)
    assert [r["row"] for r in report["rows"]] == list(range(1, 51))
    assert "email" in report["rows"][7]["error"] and report["rows"][7]["envelope_id"] is None
    listed = (await client.get("/v1/envelopes", params={"limit": 200}, headers=tenant.headers)).json()["envelopes"]
    assert len(listed) == 49 and all(e["status"] == "sent" for e in listed)
    assert len({link.recipient.email for e in listed for link in harness.links.links_for(e["envelope_id"])}) == 49


@pytest.mark.parametrize(("problem", "body"), [
    ("a column missing", "client.name,client.email,partner.name,partner.email\nA,a@example.test,B,b@example.test\n"),
    ("no rows", "client.name,client.email,partner.name,partner.email,fee\n"),
])
async def test_a_bulk_send_without_the_columns_or_rows_it_needs_is_refused_and_sends_nothing(client, harness, tenant,
                                                                                            problem, body):
    template = await a_template(client, tenant)

    answer = await client.post(f"/v1/templates/{template['template_id']}/bulk-send", content=body,
                               headers={**tenant.headers, "content-type": "text/csv"})

    assert answer.status_code == 422, problem
    assert answer.headers["content-type"].startswith("application/problem+json")
    listed = (await client.get("/v1/envelopes", headers=tenant.headers)).json()["envelopes"]
    assert listed == []


async def test_a_bulk_send_past_the_row_limit_is_refused(client, harness, tenant):
    template = await a_template(client, tenant)
    rows = [{"client.name": "C", "client.email": f"c{n}@example.test", "partner.name": "B",
             "partner.email": "b@example.test", "fee": "1"} for n in range(harness.settings.max_bulk_rows + 1)]

    answer = await client.post(f"/v1/templates/{template['template_id']}/bulk-send", content=csv_of(rows),
                               headers={**tenant.headers, "content-type": "text/csv"})

    assert answer.status_code == 422 and "rows" in answer.json()["detail"]


async def test_a_template_with_a_field_for_no_role_is_refused_and_a_deleted_one_is_gone(client, tenant):
    bad = template_body(fields=[{"role": "stranger", "kind": "signature", "page": 1, "x": 72, "y": 100}])
    refused = await client.post("/v1/templates", json=bad, headers=tenant.headers)
    assert refused.status_code == 422 and "role" in refused.text

    template = await a_template(client, tenant)
    assert (await client.delete(f"/v1/templates/{template['template_id']}", headers=tenant.headers)).status_code == 204
    assert (await client.get(f"/v1/templates/{template['template_id']}", headers=tenant.headers)).status_code == 404
