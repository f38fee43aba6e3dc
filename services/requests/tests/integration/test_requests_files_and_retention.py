"""Submitted files filed into the client's account at documents by the worker, durably (documents down: retried,
never lost, filed once); abandoned drafts and staged files removed after the retention."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loginless.requests import handlers

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _answer_with_a_file(client, headers) -> str:  # noqa: ANN001
    uploaded = await client.post("/guest/api/files/payslips?name=enero.pdf", headers=headers, content=PDF)
    assert uploaded.status_code == 201, uploaded.text
    saved = await client.post("/guest/api/answers", headers=headers,
                              json={"answers": {"full_name": "Ana", "tax_id": "12345678Z"}})
    assert saved.status_code == 200
    return uploaded.json()["file_id"]


async def test_a_submitted_file_is_filed_into_the_clients_account_once_even_when_documents_was_down(
        harness, client, tenant, send):
    harness.documents.add_account(tenant.tenant_id, "acc_ana")
    sent = await send(account_id="acc_ana")
    headers = harness.guest_headers(sent.link_ids[0])
    file_id = await _answer_with_a_file(client, headers)
    ctx = harness.context()
    harness.documents.unavailable = True
    try:
        assert (await client.post("/guest/api/submit", headers=headers)).status_code == 200
        await handlers.work_through_jobs(ctx)
        assert not [d for d in harness.documents.filed if d.tenant_id == tenant.tenant_id]
        assert await ctx.jobs.pending(ctx.pool, handlers.FILE_DOCUMENT, file_id)  # kept for a later round
    finally:
        harness.documents.unavailable = False
    await harness.pool.execute(f'UPDATE "{harness.settings.schema}".jobs SET next_attempt_at = now()')
    await handlers.work_through_jobs(ctx)
    await handlers.work_through_jobs(ctx)
    [filed] = [d for d in harness.documents.filed if d.tenant_id == tenant.tenant_id]
    assert filed.account_id == "acc_ana" and filed.display_name == "enero.pdf"
    assert harness.documents.content_of(filed.document_id) == PDF
    assert not await ctx.jobs.pending(ctx.pool, handlers.FILE_DOCUMENT, file_id)
    assert (await ctx.repository.staged_file(ctx.pool, file_id)).document_id == filed.document_id


async def test_a_file_of_a_hidden_question_or_removed_from_its_answer_is_never_filed(harness, client, tenant, send):
    harness.documents.add_account(tenant.tenant_id, "acc_2")
    sent = await send(account_id="acc_2")
    headers = harness.guest_headers(sent.link_ids[0])
    await _answer_with_a_file(client, headers)
    await client.post("/guest/api/answers", headers=headers, json={"answers": {"payslips": None}})
    assert (await client.post("/guest/api/submit", headers=headers)).status_code == 200
    await handlers.work_through_jobs(harness.context())
    assert not [d for d in harness.documents.filed if d.tenant_id == tenant.tenant_id]


async def test_drafts_and_staged_files_untouched_past_the_retention_are_removed(harness, client, send):
    sent = await send()
    headers = harness.guest_headers(sent.link_ids[0])
    file_id = await _answer_with_a_file(client, headers)
    ctx = harness.context()
    staged = await ctx.repository.staged_file(ctx.pool, file_id)
    assert [key async for key in _keys(ctx, staged.object_key)]

    later = harness.context(clock=lambda: harness.clock() + timedelta(days=harness.settings.draft_retention_days,
                                                                       minutes=1))
    drafts, files = await handlers.remove_abandoned(later)
    assert drafts >= 2 and files >= 1
    assert await ctx.repository.staged_file(ctx.pool, file_id) is None
    assert (await client.get("/guest/api/answers", headers=headers)).json()["answers"] == {}
    assert not [key async for key in _keys(ctx, staged.object_key)]


async def _keys(ctx, key: str):  # noqa: ANN001, ANN202
    """The object, if it is still stored."""
    from minio.error import S3Error

    try:
        async for _ in ctx.blobs.read_chunks(key):
            yield key
            return
    except S3Error:
        return
