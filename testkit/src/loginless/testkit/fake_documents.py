"""The documents service in memory, for the tests of the services that call it.

:class:`FakeDocuments` is a :class:`~loginless.documents.client.DocumentsApi` over a dictionary, raising the errors
:class:`~loginless.documents.client.DocumentsClient` raises. The contract suite
``services/documents/tests/integration/test_documents_api_contract.py`` runs the same tests against this fake and
against the client talking to the real service, so a caller's tests learn nothing false here.

Beside the API: seeding (:meth:`FakeDocuments.add_account`, :meth:`~FakeDocuments.add`), looking behind it
(``filed``, :meth:`~FakeDocuments.content_of`), and a fault (``unavailable``).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from loginless.documents.client import DocumentRefused, DocumentsUnavailable, DocumentTooLarge
from loginless.documents.views import DocumentView
from loginless.shared.errors import NotFound


@dataclass
class FakeDocuments:
    accounts: dict[str, set[str | None]] = field(default_factory=dict)  # "tenant/account" -> its folders (and None)
    documents: dict[str, tuple[DocumentView, bytes]] = field(default_factory=dict)
    filed: list[DocumentView] = field(default_factory=list)  # what callers filed, in order (retries counted once)
    unavailable: bool = False
    _by_key: dict[tuple[str, str], DocumentView] = field(default_factory=dict)

    # ---- seeding ----------------------------------------------------------------------------------------------

    def add_account(self, tenant_id: str, account_id: str, *folder_ids: str) -> None:
        self.accounts[f"{tenant_id}/{account_id}"] = {None, *folder_ids}

    def add(self, tenant_id: str, account_id: str, name: str, content: bytes, *,
            content_type: str = "application/pdf", folder_id: str | None = None) -> DocumentView:
        """A document the tenant already has (say, a PDF staff will send for signature)."""
        self.accounts.setdefault(f"{tenant_id}/{account_id}", {None}).add(folder_id)
        view = DocumentView(document_id=f"doc_{uuid.uuid4().hex}", tenant_id=tenant_id, account_id=account_id,
                            folder_id=folder_id, display_name=name, content_type=content_type, size=len(content),
                            sha256=hashlib.sha256(content).hexdigest())
        self.documents[view.document_id] = (view, content)
        return view

    def content_of(self, document_id: str) -> bytes:
        return self.documents[document_id][1]

    # ---- the API ----------------------------------------------------------------------------------------------

    async def document(self, tenant_id: str, document_id: str) -> DocumentView | None:
        self._check_available()
        found = self.documents.get(document_id)
        return found[0] if found and found[0].tenant_id == tenant_id else None

    async def content(self, tenant_id: str, document_id: str, *, max_size: int) -> bytes:
        view = await self.document(tenant_id, document_id)
        if view is None:
            raise NotFound("no such document", document_id=document_id)
        if view.size > max_size:
            raise DocumentTooLarge(f"the document is larger than {max_size} bytes", max_size=max_size)
        return self.documents[document_id][1]

    async def file(self, tenant_id: str, *, account_id: str, folder_id: str | None, name: str, content: bytes,
                   idempotency_key: str) -> DocumentView:
        self._check_available()
        if (tenant_id, idempotency_key) in self._by_key:
            return self._by_key[(tenant_id, idempotency_key)]
        folders = self.accounts.get(f"{tenant_id}/{account_id}")
        if folders is None or folder_id not in folders:
            raise NotFound("no such account or folder", account_id=account_id)
        if not content:
            raise DocumentRefused("documents: the document is empty", reason="empty-file")
        view = self.add(tenant_id, account_id, name, content, folder_id=folder_id,
                        content_type="application/pdf" if content.startswith(b"%PDF-") else "application/octet-stream")
        self._by_key[(tenant_id, idempotency_key)] = view
        self.filed.append(view)
        return view

    async def close(self) -> None:
        return None

    def _check_available(self) -> None:
        if self.unavailable:
            raise DocumentsUnavailable()
