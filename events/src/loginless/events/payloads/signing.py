"""Events of the signing service (topic ``signing.events``)."""

from datetime import datetime

from loginless.events.catalog import IntegrationEvent


class DocumentSigned(IntegrationEvent, service="signing", version=1):
    """One signer signed; the request may still wait for others."""

    signature_request_id: str
    tenant_id: str
    document_id: str
    signer_id: str
    signed_at: datetime
    document_sha256_before: str
    document_sha256_after: str
    link_id: str | None = None


class SigningDeclined(IntegrationEvent, service="signing", version=1):
    """A signer declined (with their reason): the request stops, and the sender and the other signers are told."""

    signature_request_id: str
    tenant_id: str
    signer_id: str
    reason: str
    declined_at: datetime
    link_id: str | None = None
    signer_name: str | None = None
