"""What every :class:`DocumentsApi` promises, run against both that exist.

``real``: documents' one client, :class:`DocumentsClient`, over HTTP to documents' own app (uvicorn, real
PostgreSQL and S3). ``fake``: the test kit's :class:`FakeDocuments`, which signing's and requests' tests use in its
place. A test that passes on one and fails on the other means the fake tells callers something documents does not.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from loginless.documents.bootstrap import create_app
from loginless.documents.client import (
    DocumentRefused,
    DocumentsApi,
    DocumentsClient,
    DocumentsUnavailable,
    DocumentTooLarge,
)
from loginless.shared.errors import NotFound
from loginless.testkit.fake_documents import FakeDocuments
from loginless.testkit.fake_services import serve

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.7\n" + b"1" * 3000 + b"\n%%EOF\n"


@dataclass
class DocumentsUnderTest:
    api: DocumentsApi
    new_account: Callable[[str], Awaitable[str]]  # an account of the tenant, to file into
    tenant_id: str
    other_tenant_id: str


@pytest.fixture(params=["real", "fake"])
async def documents(request, harness, client) -> AsyncIterator[DocumentsUnderTest]:  # noqa: ANN001
    if request.param == "fake":
        fake = FakeDocuments()

        async def fake_account(tenant_id: str) -> str:
            account_id = f"act_{uuid.uuid4().hex}"
            fake.add_account(tenant_id, account_id)
            return account_id

        yield DocumentsUnderTest(fake, fake_account, "firm-a", "firm-b")
        return
    staff, stranger = harness.new_tenant(), harness.new_tenant()

    async def real_account(tenant_id: str) -> str:
        assert tenant_id == staff.tenant_id
        created = await client.post("/v1/accounts", json={"name": "Ana"}, headers=staff.headers)
        return created.json()["account_id"]

    settings = harness.settings.model_copy(update={"internal_api_secret": SecretStr("contract-secret")})
    async with serve(create_app(settings, links=harness.links, clock=harness.clock)) as url:
        api = DocumentsClient(url, "contract-secret")
        try:
            yield DocumentsUnderTest(api, real_account, staff.tenant_id, stranger.tenant_id)
        finally:
            await api.close()


async def test_a_filed_document_reads_back_whole_with_its_hash_and_only_for_its_tenant(documents):
    account_id = await documents.new_account(documents.tenant_id)

    filed = await documents.api.file(documents.tenant_id, account_id=account_id, folder_id=None,
                                     name="signed contract.pdf", content=PDF, idempotency_key=uuid.uuid4().hex)

    assert (filed.account_id, filed.size, filed.sha256) == (account_id, len(PDF), hashlib.sha256(PDF).hexdigest())
    assert filed.content_type == "application/pdf" and filed.display_name == "signed contract.pdf"
    assert await documents.api.document(documents.tenant_id, filed.document_id) == filed
    assert await documents.api.content(documents.tenant_id, filed.document_id, max_size=len(PDF)) == PDF
    assert await documents.api.document(documents.other_tenant_id, filed.document_id) is None
    with pytest.raises(NotFound):
        await documents.api.content(documents.other_tenant_id, filed.document_id, max_size=len(PDF))


async def test_filing_again_with_the_same_key_answers_the_same_document(documents):
    account_id = await documents.new_account(documents.tenant_id)
    key = uuid.uuid4().hex

    first = await documents.api.file(documents.tenant_id, account_id=account_id, folder_id=None, name="a.pdf",
                                     content=PDF, idempotency_key=key)
    again = await documents.api.file(documents.tenant_id, account_id=account_id, folder_id=None, name="a.pdf",
                                     content=PDF, idempotency_key=key)
    other = await documents.api.file(documents.tenant_id, account_id=account_id, folder_id=None, name="a.pdf",
                                     content=PDF, idempotency_key=uuid.uuid4().hex)

    assert again.document_id == first.document_id
    assert other.document_id != first.document_id


async def test_content_past_the_callers_limit_is_refused(documents):
    account_id = await documents.new_account(documents.tenant_id)
    filed = await documents.api.file(documents.tenant_id, account_id=account_id, folder_id=None, name="big.pdf",
                                     content=PDF, idempotency_key=uuid.uuid4().hex)

    with pytest.raises(DocumentTooLarge):
        await documents.api.content(documents.tenant_id, filed.document_id, max_size=len(PDF) - 1)


async def test_an_unknown_account_or_document_is_not_found_and_an_empty_file_is_refused(documents):
    with pytest.raises(NotFound):
        await documents.api.file(documents.tenant_id, account_id="act_unknown", folder_id=None, name="a.pdf",
                                 content=PDF, idempotency_key=uuid.uuid4().hex)
    assert await documents.api.document(documents.tenant_id, "doc_unknown") is None
    account_id = await documents.new_account(documents.tenant_id)
    with pytest.raises(DocumentRefused):
        await documents.api.file(documents.tenant_id, account_id=account_id, folder_id=None, name="empty.pdf",
                                 content=b"", idempotency_key=uuid.uuid4().hex)


async def test_a_caller_without_the_internal_secret_finds_documents_unavailable(harness):
    settings = harness.settings.model_copy(update={"internal_api_secret": SecretStr("the-right-secret")})
    async with serve(create_app(settings, links=harness.links, clock=harness.clock)) as url:
        api = DocumentsClient(url, "a-wrong-secret")
        try:
            with pytest.raises(DocumentsUnavailable):
                await api.document("firm-a", "doc_anything")
        finally:
            await api.close()
    api = DocumentsClient("http://127.0.0.1:9", "secret", timeout_seconds=2)  # nothing listens there
    try:
        with pytest.raises(DocumentsUnavailable):
            await api.document("firm-a", "doc_anything")
    finally:
        await api.close()
