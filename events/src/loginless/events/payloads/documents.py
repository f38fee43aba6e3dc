"""Events of the documents service (topic ``documents.events``).

Guests' access records (``DocumentViewed``, ``DocumentDownloaded``) carry an IP address and a user agent: the
service deletes its copies after the configured retention, and the topic's own retention should be no longer.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from loginless.events.catalog import IntegrationEvent


class RequestedRecipient(BaseModel):
    """A recipient a share or an upload request is for, before their link exists."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str
    recipient_name: str | None = None
    language: Literal["en", "es"] | None = None


class ShareRecipient(BaseModel):
    """One recipient of a share or an upload request, and the link issued to them (never its URL or token)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    link_id: str
    email: str


class ClientAccountCreated(IntegrationEvent, service="documents", version=1):
    """A client account. ``guest`` accounts hold uploads from people who are not clients; an account whose
    ``portal_access`` is ``disabled`` receives no notifications and cannot log in until invited."""

    account_id: str
    tenant_id: str
    account_name: str  # not "name": IntegrationEvent reserves name, service and version for the type
    email: str | None = None
    kind: Literal["client", "guest"]
    portal_access: Literal["enabled", "disabled"]
    created_at: datetime


class ClientInvitedToPortal(IntegrationEvent, service="documents", version=1):
    """Staff invited a client without portal access; the portal (or notifications) sends the invitation."""

    account_id: str
    tenant_id: str
    email: str
    invited_at: datetime


class FolderCreated(IntegrationEvent, service="documents", version=1):
    folder_id: str
    tenant_id: str
    account_id: str
    folder_name: str
    created_at: datetime


class DocumentAdded(IntegrationEvent, service="documents", version=1):
    """Staff uploaded a document through the API; it is complete in object storage."""

    document_id: str
    tenant_id: str
    account_id: str
    folder_id: str | None = None
    display_name: str
    size: int
    sha256: str
    content_type: str
    added_at: datetime


class FileUploaded(IntegrationEvent, service="documents", version=1):
    """A guest's file is complete in object storage, checksum verified and scanned. Superseded by
    ``FileUploaded.v2`` (which says what scanned it), published beside it for a deprecation period."""

    file_id: str
    tenant_id: str
    account_id: str
    folder_id: str
    display_name: str
    size: int
    sha256: str
    content_type: str
    link_id: str | None = None
    upload_request_id: str | None = None
    uploader_name: str | None = None
    uploader_email: str | None = None
    uploaded_at: datetime | None = None


class FileUploadedV2(IntegrationEvent, service="documents", name="FileUploaded", version=2):
    """A guest's file is complete in object storage, its checksum verified, and the antivirus found it clean:
    ``scan_verdict`` and ``scan_engine`` (e.g. ``ClamAV 1.4.6/27000/…``: the engine and its signature database) say
    so (``not_scanned`` only where no antivirus is configured, in development). Files recorded before verdicts
    were (v1) read as ``unrecorded``."""

    file_id: str
    tenant_id: str
    account_id: str
    folder_id: str
    display_name: str
    size: int
    sha256: str
    content_type: str
    scan_verdict: Literal["clean", "not_scanned", "unrecorded"]  # not_scanned: DOCUMENTS_SCANNER=none
    scan_engine: str
    link_id: str | None = None
    upload_request_id: str | None = None
    uploader_name: str | None = None
    uploader_email: str | None = None
    uploaded_at: datetime | None = None


class FileRefused(IntegrationEvent, service="documents", version=1):
    """A guest's file was refused by the antivirus: deleted from object storage, never a document, never
    announced as uploaded. On the upload request's stream."""

    upload_request_id: str
    tenant_id: str
    file_id: str
    link_id: str
    display_name: str
    size: int
    sha256: str
    content_type: str
    scan_engine: str
    signature: str | None = None
    refused_at: datetime


class SharePrepared(IntegrationEvent, service="documents", version=1):
    """Staff asked to share a document with recipients. Their links are issued next (one ``RecipientLinkIssued``
    each), and the share becomes ``DocumentShared`` when all are; or ``ShareFailed``, with any issued link revoked."""

    share_id: str
    document_id: str
    tenant_id: str
    recipients: list[RequestedRecipient]
    view_only: bool
    expires_at: datetime
    prepared_at: datetime


class RecipientLinkIssued(IntegrationEvent, service="documents", version=1):
    """The links service issued one recipient's link for a share or an upload request (``resource_id``)."""

    resource_id: str
    tenant_id: str
    link_id: str
    email: str
    recipient_name: str | None = None
    issued_at: datetime


class RecipientLinkRevoked(IntegrationEvent, service="documents", version=1):
    """One recipient's link of a share or an upload request no longer works (staff revoked it, here or at links)."""

    resource_id: str
    tenant_id: str
    link_id: str
    revoked_at: datetime


class RecipientLinkExpired(IntegrationEvent, service="documents", version=1):
    """One recipient's link reached its expiry (as the links service reported)."""

    resource_id: str
    tenant_id: str
    link_id: str
    expires_at: datetime


class ShareFailed(IntegrationEvent, service="documents", version=1):
    """The share's links could not all be issued in time; any that were are revoked. Nothing was shared."""

    share_id: str
    document_id: str
    tenant_id: str
    reason: str
    failed_at: datetime


class DocumentShared(IntegrationEvent, service="documents", version=1):
    """A document was shared with recipients by e-mail, one link each (issued by the links service)."""

    share_id: str
    document_id: str
    tenant_id: str
    recipients: list[ShareRecipient]
    view_only: bool
    expires_at: datetime
    shared_at: datetime


class ShareRevoked(IntegrationEvent, service="documents", version=1):
    share_id: str
    document_id: str
    tenant_id: str
    revoked_at: datetime


class ShareLocked(IntegrationEvent, service="documents", version=1):
    """The share is locked until an invoice (of the payments service) is paid: its guests see that it unlocks
    then, and cannot view or download it meanwhile. ``reason``: staff locked it, or a payment of the invoice was
    reversed after it had unlocked it (payments reopened the invoice)."""

    share_id: str
    document_id: str
    tenant_id: str
    invoice_id: str
    reason: Literal["staff", "payment_reversed"]
    locked_at: datetime


class ShareUnlocked(IntegrationEvent, service="documents", version=1):
    """The lock ended: the invoice was paid (``InvoicePaid`` seen, possibly before the lock), or staff released it
    by hand (the share then has no lock at all)."""

    share_id: str
    document_id: str
    tenant_id: str
    invoice_id: str
    reason: Literal["invoice_paid", "released"]
    unlocked_at: datetime


class DocumentViewed(IntegrationEvent, service="documents", version=1):
    """A guest opened a shared document's page. ``client_ip`` and ``user_agent`` are personal data."""

    access_id: str
    document_id: str
    share_id: str
    tenant_id: str
    link_id: str
    viewed_at: datetime
    client_ip: str | None = None
    user_agent: str | None = None


class DocumentDownloaded(IntegrationEvent, service="documents", version=1):
    """A guest downloaded a shared document. ``client_ip`` and ``user_agent`` are personal data."""

    access_id: str
    document_id: str
    share_id: str
    tenant_id: str
    link_id: str
    downloaded_at: datetime
    client_ip: str | None = None
    user_agent: str | None = None


class UploadRequestPrepared(IntegrationEvent, service="documents", version=1):
    """Staff asked recipients for files, into a folder, with per-link limits. Their links are issued next; the
    request becomes ``UploadRequestCreated`` when all are, or ``UploadRequestFailed``."""

    upload_request_id: str
    tenant_id: str
    account_id: str
    folder_id: str
    recipients: list[RequestedRecipient]
    max_file_size: int
    allowed_types: list[str]
    max_files: int
    deadline: datetime
    prepared_at: datetime


class UploadRequestFailed(IntegrationEvent, service="documents", version=1):
    """The request's links could not all be issued in time; any that were are revoked."""

    upload_request_id: str
    tenant_id: str
    reason: str
    failed_at: datetime


class UploadRequestCreated(IntegrationEvent, service="documents", version=1):
    """Every recipient of an upload request has a link: guests can send files, into a folder, within limits."""

    upload_request_id: str
    tenant_id: str
    account_id: str
    folder_id: str
    recipients: list[ShareRecipient]
    max_file_size: int
    allowed_types: list[str]
    max_files: int
    deadline: datetime
    created_at: datetime


class UploadRequestRevoked(IntegrationEvent, service="documents", version=1):
    upload_request_id: str
    tenant_id: str
    revoked_at: datetime
