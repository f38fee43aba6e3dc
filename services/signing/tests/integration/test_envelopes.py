"""An envelope from the staff API to its sealed documents: signers in order, each through their own link, each
signature recorded once, and what ends an envelope (a decline, a void, the expiry) refused to everyone after."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from datetime import timedelta

import pikepdf
import pytest

from loginless.signing.handlers import work_through_jobs
from loginless.signing.pdf import validate_sealed

from ..conftest import blank_pdf, text_pdf
from .conftest import CONTRACT, envelope_body

pytestmark = pytest.mark.integration

ANA, BEA = ("Ana Ortiz", "ana@example.test"), ("Bea Ruiz", "bea@example.test")


async def send(client, tenant, *signers, **body):  # noqa: ANN001, ANN002, ANN003, ANN201
    response = await client.post("/v1/envelopes", json=envelope_body(*signers, **body), headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def open_page(client, headers) -> str:  # noqa: ANN001
    page = await client.get("/guest/", headers=headers)
    return page.text


async def sign_typed(client, headers, name: str, **values: str):  # noqa: ANN001, ANN201
    """Open the link, consent, read the signing page for the hashes it shows, and sign with a typed name."""
    await client.get("/guest/", headers=headers)
    await client.post("/guest/consent", headers=headers)
    page = await client.get("/guest/", headers=headers)
    shown = dict(re.findall(r'name="shown:(\d+)" value="([0-9a-f]{64})"', page.text))
    form = {f"shown:{n}": sha for n, sha in shown.items()} | {"typed": name}
    form |= {f"field:{k}": v for k, v in values.items()}
    return await client.post("/guest/sign", data=form, headers=headers, follow_redirects=False)


async def test_two_signers_in_order_each_sign_once_and_the_sealed_documents_validate(client, harness, tenant):
    envelope = await send(client, tenant, ANA, BEA)

    assert envelope["status"] == "sent"
    assert [(r["name"], r["status"], r["link_id"] is not None) for r in envelope["recipients"]] == [
        ("Ana Ortiz", "pending", True), ("Bea Ruiz", "waiting", False)]  # Bea's link comes when it is her turn
    assert "token" not in str(envelope) and "/l/" not in str(envelope)  # staff never see a signer's token
    ana = harness.guest_headers(harness.link_of(envelope["envelope_id"], ANA[1]))

    signed = await sign_typed(client, ana, "Ana Ortiz")
    assert signed.status_code == 303, signed.text
    page = await client.get("/guest/", headers=ana)
    assert "data-waiting" in page.text  # Bea has yet to sign

    bea_link = harness.link_of(envelope["envelope_id"], BEA[1])  # issued when Ana signed
    bea = harness.guest_headers(bea_link)
    assert (await sign_typed(client, bea, "Bea Ruiz")).status_code == 303
    assert await work_through_jobs(harness.context()) >= 1  # the worker seals

    detail = (await client.get(f"/v1/envelopes/{envelope['envelope_id']}", headers=tenant.headers)).json()
    assert detail["status"] == "completed" and detail["seal_level"] == "B-B"
    assert [r["status"] for r in detail["recipients"]] == ["signed", "signed"]
    assert [h["what"] for h in detail["recipients"][0]["history"]] == ["link_issued", "viewed", "consented", "signed"]
    assert detail["recipients"][0]["history"][-1]["client_ip"] == "203.0.113.9"
    sealed = await client.get(f"/v1/envelopes/{envelope['envelope_id']}/documents/0/sealed", headers=tenant.headers)
    assert sealed.status_code == 200 and sealed.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(sealed.content).hexdigest() == detail["documents"][0]["sha256_sealed"]
    assert detail["documents"][0]["sha256"] == hashlib.sha256(CONTRACT).hexdigest()
    report = await asyncio.to_thread(validate_sealed, sealed.content, [harness.trust_root_pem])
    assert report.ok and report.pades_level == "B-B", report
    certificate = await client.get(f"/v1/envelopes/{envelope['envelope_id']}/certificate", headers=tenant.headers)
    assert hashlib.sha256(certificate.content).hexdigest() == detail["certificate_sha256"]
    assert (await asyncio.to_thread(validate_sealed, certificate.content, [harness.trust_root_pem])).ok
    copy = await client.get("/guest/signed/0", headers=bea)  # signers get the signed copy from the done page
    assert copy.content == sealed.content
    assert await harness.events(envelope["envelope_id"]) == [
        "EnvelopeCreated", "EnvelopeSent", "SigningTurnStarted", "RecipientLinkIssued", "RecipientViewed",
        "ConsentGiven", "DocumentSigned", "SigningTurnStarted", "RecipientLinkIssued", "RecipientViewed",
        "ConsentGiven", "DocumentSigned", "EnvelopeCompleted"]


async def test_each_signer_is_shown_the_pdf_with_the_earlier_signatures_and_their_event_names_its_hashes(
        client, harness, tenant):
    envelope = await send(client, tenant, ANA, BEA)
    ana = harness.guest_headers(harness.link_of(envelope["envelope_id"], ANA[1]))
    first_shown = await client.get("/guest/documents/0", headers=ana)
    assert first_shown.content == CONTRACT  # the first signer reads the original
    await sign_typed(client, ana, "Ana Ortiz")

    bea = harness.guest_headers(harness.link_of(envelope["envelope_id"], BEA[1]))
    second_shown = await client.get("/guest/documents/0", headers=bea)
    assert second_shown.content != CONTRACT and second_shown.content.startswith(b"%PDF")

    rows = await harness.pool.fetch(
        f'SELECT data::text AS payload FROM "{harness.settings.schema}".events WHERE stream_id = $1'
        " AND type LIKE '%.DocumentSigned.%' ORDER BY version", envelope["envelope_id"])
    [ana_signed] = [row["payload"] for row in rows]
    assert f'"document_sha256_before": "{hashlib.sha256(CONTRACT).hexdigest()}"' in ana_signed
    assert f'"document_sha256_after": "{hashlib.sha256(second_shown.content).hexdigest()}"' in ana_signed


async def test_a_double_click_two_tabs_and_a_retry_give_exactly_one_document_signed(client, harness, tenant):
    envelope = await send(client, tenant, ANA)
    ana = harness.guest_headers(harness.link_of(envelope["envelope_id"], ANA[1]))
    await client.post("/guest/consent", headers=ana)
    page = await client.get("/guest/", headers=ana)
    [(index, sha)] = re.findall(r'name="shown:(\d+)" value="([0-9a-f]{64})"', page.text)
    form = {f"shown:{index}": sha, "typed": "Ana Ortiz"}

    answers = await asyncio.gather(*[client.post("/guest/sign", data=form, headers=ana, follow_redirects=False)
                                     for _ in range(4)])
    retry = await client.post("/guest/sign", data=form, headers=ana, follow_redirects=False)

    assert [a.status_code for a in answers] == [303] * 4 and retry.status_code == 303  # all land on the done page
    assert (await harness.events(envelope["envelope_id"])).count("DocumentSigned") == 1


async def test_a_signer_whose_turn_has_not_come_is_refused_whatever_link_they_hold(client, harness, tenant):
    envelope = await send(client, tenant, ANA, BEA)
    # A link for Bea issued at links directly (say, by an old integration): it is still not her turn.
    from loginless.links.views import IssueLinksIn, RecipientIn

    issued = await harness.links.issue(tenant.tenant_id, IssueLinksIn(
        action="sign", resource_id=envelope["envelope_id"], recipients=[RecipientIn(email=BEA[1])]))
    stray = harness.guest_headers(issued.links[0].link_id)
    assert (await client.get("/guest/", headers=stray)).status_code == 404  # not a recipient's link here

    detail = (await client.get(f"/v1/envelopes/{envelope['envelope_id']}", headers=tenant.headers)).json()
    assert detail["recipients"][1]["link_id"] is None
    # Bea's own link, once issued, but before Ana signed: refused on the server as well as on the page.
    harness_ctx = harness.context()
    from loginless.shared.eventstore import Cause
    from loginless.signing import domain

    await harness_ctx.envelopes.run(envelope["envelope_id"],
                                    domain.RecordLinkIssued("r2", issued.links[0].link_id, harness.clock()),
                                    Cause("test"))
    page = await client.get("/guest/", headers=stray)
    assert page.status_code == 409 and "not your turn" in page.text.lower()
    signed = await client.post("/guest/sign", data={"typed": "Bea Ruiz"}, headers=stray)
    assert signed.status_code == 409
    assert "DocumentSigned" not in await harness.events(envelope["envelope_id"])


async def test_a_decline_stops_the_envelope_for_everyone_and_a_sealed_record_is_kept(client, harness, tenant):
    envelope = await send(client, tenant, ANA, BEA, routing="parallel")
    ana = harness.guest_headers(harness.link_of(envelope["envelope_id"], ANA[1]))
    bea = harness.guest_headers(harness.link_of(envelope["envelope_id"], BEA[1]))

    empty = await client.post("/guest/decline", data={"reason": "  "}, headers=ana)
    assert empty.status_code == 422  # a reason is required
    declined = await client.post("/guest/decline", data={"reason": "The amount is wrong"}, headers=ana,
                                 follow_redirects=False)
    assert declined.status_code == 303
    await work_through_jobs(harness.context())

    page = await client.get("/guest/", headers=bea)
    assert page.status_code == 410 and "declined" in page.text
    assert (await sign_typed(client, bea, "Bea Ruiz")).status_code == 410
    detail = (await client.get(f"/v1/envelopes/{envelope['envelope_id']}", headers=tenant.headers)).json()
    assert detail["status"] == "declined" and detail["end_reason"] == "The amount is wrong"
    assert harness.links.state_of(detail["recipients"][1]["link_id"]).status == "revoked"  # Bea's link ends
    certificate = await client.get(f"/v1/envelopes/{envelope['envelope_id']}/certificate", headers=tenant.headers)
    assert (await asyncio.to_thread(validate_sealed, certificate.content, [harness.trust_root_pem])).ok
    assert "EnvelopeRecordSealed" in await harness.events(envelope["envelope_id"])


async def test_after_a_void_or_the_expiry_signing_is_refused_with_a_page_that_says_why(client, harness, tenant):
    voided = await send(client, tenant, ANA)
    ana = harness.guest_headers(harness.link_of(voided["envelope_id"], ANA[1]))
    answer = await client.post(f"/v1/envelopes/{voided['envelope_id']}/void", json={"reason": "Wrong client"},
                               headers=tenant.headers)
    assert answer.status_code == 200 and answer.json()["status"] == "voided"
    page = await client.get("/guest/", headers=ana)
    assert page.status_code == 410 and "withdrew" in page.text and "Demo Firm" in page.text
    assert (await sign_typed(client, ana, "Ana Ortiz")).status_code == 410

    expiring = await send(client, tenant, BEA, expires_in_days=1)
    bea = harness.guest_headers(harness.link_of(expiring["envelope_id"], BEA[1]))
    harness.clock.shift = timedelta(days=2)
    try:
        from loginless.signing.handlers import expire_due

        assert await expire_due(harness.context()) >= 1
        page = await client.get("/guest/", headers=bea)
        assert page.status_code == 410 and "expired" in page.text
    finally:
        harness.clock.shift = timedelta()
    assert "EnvelopeExpired" in await harness.events(expiring["envelope_id"])


def encrypted() -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(CONTRACT)) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="o", user=""))
    return out.getvalue()


def with_javascript(pdf: pikepdf.Pdf) -> None:
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('hi')"))


def with_embedded_file(pdf: pikepdf.Pdf) -> None:
    attached = pikepdf.AttachedFileSpec(pdf, b"MZ not a document", filename="invoice.exe")
    pdf.attachments["invoice.exe"] = attached


@pytest.mark.parametrize(("content", "reason"), [
    pytest.param(lambda: b"", "empty", id="0 bytes"),
    pytest.param(lambda: b"\x89PNG\r\n\x1a\n" + b"0" * 100, "not-a-pdf", id="not a pdf"),
    pytest.param(lambda: CONTRACT[: len(CONTRACT) // 3], "malformed", id="malformed"),
    pytest.param(encrypted, "encrypted", id="encrypted"),
    pytest.param(lambda: text_pdf(mutate=with_javascript), "javascript", id="javascript"),
    pytest.param(lambda: text_pdf(mutate=with_embedded_file), "embedded-files", id="embedded file"),
    pytest.param(lambda: blank_pdf(2000), "too-many-pages", id="2,000 pages"),
])
async def test_a_hostile_pdf_is_refused_with_its_reason_and_nothing_is_stored(client, harness, tenant, content,
                                                                              reason):
    before = await harness.pool.fetchval(f'SELECT count(*) FROM "{harness.settings.schema}".events')
    objects_before = await stored_objects(harness, tenant.tenant_id)

    response = await client.post("/v1/envelopes", json=envelope_body(ANA, document=content()),
                                 headers=tenant.headers)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["reason"] == reason
    assert await harness.pool.fetchval(f'SELECT count(*) FROM "{harness.settings.schema}".events') == before
    assert await stored_objects(harness, tenant.tenant_id) == objects_before


async def stored_objects(harness, tenant_id: str) -> list[str]:  # noqa: ANN001
    client = harness.blobs._client  # noqa: SLF001 -- looking behind the service
    if not await asyncio.to_thread(client.bucket_exists, harness.blobs.bucket):
        return []
    prefix = f"tenants/{tenant_id}/"
    listed = await asyncio.to_thread(lambda: list(client.list_objects(harness.blobs.bucket, prefix=prefix,
                                                                      recursive=True)))
    return sorted(item.object_name for item in listed)


async def test_another_tenants_envelope_is_not_found(client, harness, tenant):
    envelope = await send(client, tenant, ANA)
    stranger = harness.new_tenant()

    for path in ("", "/certificate", "/documents/0/sealed"):
        answer = await client.get(f"/v1/envelopes/{envelope['envelope_id']}{path}", headers=stranger.headers)
        assert answer.status_code == 404
    voided = await client.post(f"/v1/envelopes/{envelope['envelope_id']}/void", json={"reason": "x"},
                               headers=stranger.headers)
    assert voided.status_code == 404


async def test_a_seal_that_fails_while_the_timestamp_authority_is_down_is_retried_until_done(client, harness, tenant):
    from dataclasses import replace

    from loginless.signing.pdf import SealingUnavailable

    class AuthorityDownOnce:
        """The real engine, whose first seal meets a timestamp authority that does not answer."""

        def __init__(self, engine) -> None:  # noqa: ANN001
            self.engine, self.failed = engine, False

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self.engine, name)

        async def seal(self, data: bytes, *, reason: str, credentials=None):  # noqa: ANN001, ANN201
            if not self.failed:
                self.failed = True
                raise SealingUnavailable("the timestamp authority did not answer")
            return await self.engine.seal(data, reason=reason, credentials=credentials)

    envelope = await send(client, tenant, ANA)
    ana = harness.guest_headers(harness.link_of(envelope["envelope_id"], ANA[1]))
    await sign_typed(client, ana, "Ana Ortiz")
    worker = replace(harness.context(), pdf=AuthorityDownOnce(harness.pdf))

    await work_through_jobs(worker)  # the authority is down: the job waits
    detail = (await client.get(f"/v1/envelopes/{envelope['envelope_id']}", headers=tenant.headers)).json()
    assert detail["status"] == "sealing"
    row = await harness.pool.fetchrow(f'SELECT attempts, last_error FROM "{harness.settings.schema}".jobs'
                                      " WHERE kind = 'seal' AND key = $1", envelope["envelope_id"])
    assert row["attempts"] == 1 and "timestamp authority" in row["last_error"]
    await harness.pool.execute(f'UPDATE "{harness.settings.schema}".jobs SET next_attempt_at = now()'
                               " WHERE kind = 'seal' AND key = $1", envelope["envelope_id"])  # its retry is due

    await work_through_jobs(worker)
    detail = (await client.get(f"/v1/envelopes/{envelope['envelope_id']}", headers=tenant.headers)).json()
    assert detail["status"] == "completed"
    assert (await harness.events(envelope["envelope_id"])).count("EnvelopeCompleted") == 1


async def test_a_signer_attaches_an_id_copy_within_the_limits_and_it_is_filed_with_the_sealed_document(
        client, harness, tenant):
    account = f"act_{tenant.tenant_id}"
    harness.documents.add_account(tenant.tenant_id, account)
    body = envelope_body(ANA, account_id=account)
    body["fields"].append({"recipient": 0, "kind": "attachment", "label": "A copy of your ID", "page": 1, "x": 72,
                           "y": 300, "width": 200, "height": 20})
    envelope = (await client.post("/v1/envelopes", json=body, headers=tenant.headers)).json()
    ana = harness.guest_headers(harness.link_of(envelope["envelope_id"], ANA[1]))
    await client.get("/guest/", headers=ana)
    await client.post("/guest/consent", headers=ana)
    page = await client.get("/guest/", headers=ana)
    assert 'type="file"' in page.text and 'enctype="multipart/form-data"' in page.text
    [(index, sha)] = re.findall(r'name="shown:(\d+)" value="([0-9a-f]{64})"', page.text)
    form = {f"shown:{index}": sha, "typed": "Ana Ortiz"}
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200

    async def sign_with(files):  # noqa: ANN001, ANN202
        return await client.post("/guest/sign", data=form, files=files, headers=ana, follow_redirects=False)

    missing = await sign_with({"attachment:f3": ("", b"", "application/octet-stream")})
    too_large = await sign_with({"attachment:f3": ("id.png", png + b"\x00" * harness.settings.max_attachment_size,
                                                   "image/png")})
    wrong_type = await sign_with({"attachment:f3": ("id.png", b"MZ\x90\x00 an executable", "image/png")})
    for refused, why in ((missing, "attach a file"), (too_large, "larger than"), (wrong_type, "PDF, PNG or JPEG")):
        assert refused.status_code == 422 and why in refused.text, refused.text[:300]
    assert "DocumentSigned" not in await harness.events(envelope["envelope_id"])

    signed = await sign_with({"attachment:f3": ("../../my id.png", png, "image/png")})
    assert signed.status_code == 303, signed.text
    await work_through_jobs(harness.context())  # seal, then file
    await work_through_jobs(harness.context())
    names = sorted(view.display_name for view in harness.documents.filed if view.account_id == account)
    assert names == ["Loan agreement - audit certificate.pdf", "loan (signed).pdf", "my id.png"]
    detail = (await client.get(f"/v1/envelopes/{envelope['envelope_id']}", headers=tenant.headers)).json()
    assert len(detail["filed_document_ids"]) == 3


async def test_resending_sends_the_same_link_while_it_lives_and_a_new_one_once_it_ended(client, harness, tenant):
    envelope = await send(client, tenant, ANA, BEA)
    first_link = harness.link_of(envelope["envelope_id"], ANA[1])
    path = f"/v1/envelopes/{envelope['envelope_id']}/recipients"

    again = await client.post(f"{path}/r1/resend", headers=tenant.headers)
    assert again.status_code == 202 and again.json()["link_id"] == first_link
    not_yet = await client.post(f"{path}/r2/resend", headers=tenant.headers)
    assert not_yet.status_code == 409  # Bea has no link to act on before her turn

    await harness.links.revoke(tenant.tenant_id, first_link)  # ended at links (expired, say)
    renewed = await client.post(f"{path}/r1/resend", headers=tenant.headers)

    assert renewed.status_code == 202 and renewed.json()["link_id"] not in (None, first_link)
    new_link = renewed.json()["link_id"]
    assert harness.links.state_of(new_link).status == "active"
    assert harness.links.state_of(new_link).expires_at <= harness.clock() + timedelta(days=7, seconds=5)
    assert (await sign_typed(client, harness.guest_headers(new_link), "Ana Ortiz")).status_code == 303


async def test_an_envelopes_own_reminder_schedule_travels_with_each_turn_and_a_bad_one_is_refused(
        client, harness, tenant):
    body = envelope_body(ANA, BEA, reminders={"first_after": "PT12H", "interval": "P1D",
                                               "expiry_warning_before": "PT6H", "max_reminders": 2})
    envelope = (await client.post("/v1/envelopes", json=body, headers=tenant.headers)).json()
    rows = await harness.pool.fetch(
        f'SELECT data FROM "{harness.settings.schema}".events WHERE stream_id = $1'
        " AND type LIKE '%.SigningTurnStarted.%'", envelope["envelope_id"])
    import json

    [turn] = [json.loads(row["data"]) for row in rows]
    assert turn["reminders"] == {"enabled": True, "first_after_seconds": 43200, "interval_seconds": 86400,
                                 "expiry_warning_before_seconds": 21600, "max_reminders": 2}

    refused = await client.post("/v1/envelopes", json=envelope_body(ANA, reminders={"interval": "PT0S"}),
                                headers=tenant.headers)
    assert refused.status_code == 422 and "reminders" in refused.json()["detail"]


async def test_a_pdf_of_the_documents_service_fields_at_an_anchor_and_initials_on_every_page(client, harness, tenant):
    contract = text_pdf([[(72, 720, "Loan agreement")], [(72, 500, "Signature of the borrower:")]])
    kept = harness.documents.add(tenant.tenant_id, "act_1", "loan.pdf", contract)
    body = envelope_body(ANA, send=False)
    body["documents"] = [{"name": "loan.pdf", "document_id": kept.document_id}]
    body["fields"] = [{"recipient": 0, "kind": "signature", "anchor": {"text": "Signature of the borrower:",
                                                                        "offset_x": 0, "offset_y": -45}},
                      {"recipient": 0, "kind": "initials", "page": 1, "x": 500, "y": 40, "width": 60, "height": 20,
                       "every_page": True}]

    draft = await client.post("/v1/envelopes", json=body, headers=tenant.headers)

    assert draft.status_code == 201, draft.text
    assert draft.json()["status"] == "draft" and draft.json()["documents"][0]["document_id"] == kept.document_id
    state, _ = await harness.context().envelopes.load(draft.json()["envelope_id"])
    signature, *initials = state.fields
    assert signature.page == 2 and 450 < signature.y + 45 < 520  # where the anchor text is, on page 2
    assert [(f.page, f.kind) for f in initials] == [(1, "initials"), (2, "initials")]
    missing = dict(body, documents=[{"name": "x.pdf", "document_id": "doc_unknown"}])
    assert (await client.post("/v1/envelopes", json=missing, headers=tenant.headers)).status_code == 404
    nowhere = dict(body, fields=[{"recipient": 0, "kind": "signature", "anchor": {"text": "Not in the PDF"}}])
    assert (await client.post("/v1/envelopes", json=nowhere, headers=tenant.headers)).status_code == 422


async def test_an_approver_approves_in_their_turn_and_a_copy_gets_a_link_to_the_signed_documents_at_the_end(
        client, harness, tenant):
    body = envelope_body(ANA)
    body["recipients"] += [{"name": "Rosa Díaz", "email": "rosa@example.test", "role": "approver"},
                           {"name": "Carlos", "email": "carlos@example.test", "role": "copy"}]
    envelope = (await client.post("/v1/envelopes", json=body, headers=tenant.headers)).json()
    assert [(r["role"], r["group"], r["status"]) for r in envelope["recipients"]] == [
        ("signer", 1, "pending"), ("approver", 2, "waiting"), ("copy", 2, "waiting")]
    await sign_typed(client, harness.guest_headers(harness.link_of(envelope["envelope_id"], ANA[1])), "Ana Ortiz")
    issued_to = {link.recipient.email for link in harness.links.links_for(envelope["envelope_id"])}
    assert issued_to == {ANA[1], "rosa@example.test"}  # the copy gets nothing before the end

    rosa = harness.guest_headers(harness.link_of(envelope["envelope_id"], "rosa@example.test"))
    assert (await sign_typed(client, rosa, "Rosa Díaz")).status_code == 303
    await work_through_jobs(harness.context())  # sealed; then the copy's link
    await work_through_jobs(harness.context())

    carlos = harness.guest_headers(harness.link_of(envelope["envelope_id"], "carlos@example.test"))
    done = await client.get("/guest/", headers=carlos)
    assert "data-completed" in done.text and "data-signed-copy" in done.text
    assert (await client.get("/guest/signed/0", headers=carlos)).content.startswith(b"%PDF")
    assert (await client.post("/guest/sign", data={"typed": "Carlos"}, headers=carlos,
                              follow_redirects=False)).status_code == 410  # a copy signs nothing
    rows = await harness.pool.fetch(
        f'SELECT data::text AS data FROM "{harness.settings.schema}".events WHERE stream_id = $1'
        " AND type LIKE '%.DocumentSigned.%'", envelope["envelope_id"])
    assert ['"role": "approver"' in row["data"] for row in rows] == [False, True]


async def test_the_signing_pages_speak_spanish_to_a_spanish_signer(client, harness, tenant):
    envelope = (await client.post("/v1/envelopes", json=envelope_body(("Luis", "luis@example.test")),
                                  headers=tenant.headers)).json()
    luis = harness.guest_headers(harness.link_of(envelope["envelope_id"], "luis@example.test"),
                                 **{"accept-language": "es-ES,es;q=0.9"})

    consent = await client.get("/guest/", headers=luis)
    assert "Acepto: continuar a los documentos" in consent.text and 'lang="es"' in consent.text
    await client.post("/guest/consent", headers=luis)
    page = await client.get("/guest/", headers=luis)
    assert "Su firma" in page.text and "Rechazar la firma" in page.text


async def test_with_a_timestamp_authority_the_envelope_and_its_certificate_are_sealed_b_lta(
        client, harness, tenant, local_pki):
    from dataclasses import replace

    from loginless.signing.engine import PdfWork
    from loginless.signing.pdf import SealCredentials, ValidationSources

    long_term = PdfWork(max_pages=10, max_size=10_000_000, timestamp_url=local_pki.timestamp_url,
                        credentials=SealCredentials.from_pkcs12(local_pki.seal_pkcs12, None, now=harness.clock()),
                        validation=ValidationSources(trust_roots=[local_pki.root_pem], timeout_seconds=5))
    envelope = await send(client, tenant, ANA)
    await sign_typed(client, harness.guest_headers(harness.link_of(envelope["envelope_id"], ANA[1])), "Ana Ortiz")

    await work_through_jobs(replace(harness.context(), pdf=long_term))

    detail = (await client.get(f"/v1/envelopes/{envelope['envelope_id']}", headers=tenant.headers)).json()
    assert detail["status"] == "completed" and detail["seal_level"] == "B-LTA"
    for path in ("documents/0/sealed", "certificate"):
        sealed = (await client.get(f"/v1/envelopes/{envelope['envelope_id']}/{path}", headers=tenant.headers)).content
        report = await asyncio.to_thread(validate_sealed, sealed, [local_pki.root_pem])
        assert report.ok and report.pades_level == "B-LTA", (path, report)
