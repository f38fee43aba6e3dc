"""What documents' internal API answers other services: the one wire model its controller and its client share."""

from __future__ import annotations

from pydantic import BaseModel

from loginless.documents import domain


class DocumentView(BaseModel):
    """A document as another service sees it: where it is filed and what its bytes are."""

    document_id: str
    tenant_id: str
    account_id: str
    folder_id: str | None
    display_name: str
    content_type: str
    size: int
    sha256: str

    @classmethod
    def of(cls, document: domain.Document) -> DocumentView:
        return cls(document_id=document.document_id, tenant_id=document.tenant_id, account_id=document.account_id,
                   folder_id=document.folder_id, display_name=document.display_name,
                   content_type=document.content_type, size=document.size, sha256=document.sha256)
