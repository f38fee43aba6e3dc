"""Events of the documents service (topic ``documents.events``)."""

from loginless.shared.events.catalog import IntegrationEvent


class FileUploaded(IntegrationEvent, service="documents", version=1):
    """A guest's file is complete in object storage, checksum verified and scanned."""

    file_id: str
    tenant_id: str
    account_id: str
    folder_id: str
    display_name: str
    size: int
    sha256: str
    content_type: str
    link_id: str | None = None
