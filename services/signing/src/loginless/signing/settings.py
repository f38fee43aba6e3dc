"""Settings of the signing service, read from ``SIGNING_*`` environment variables."""

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from loginless.documents.client import DocumentsClientSettings
from loginless.links.client import LinksClientSettings
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.assertion import GuestAccessSettings

MIB = 1024 * 1024


class SigningSettings(ServiceSettings, LinksClientSettings, DocumentsClientSettings, GuestAccessSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNING_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "signing"

    s3_endpoint: str = Field("http://127.0.0.1:9000", description="S3-compatible object storage")
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = Field("loginless-signing", description="Originals, interim and sealed PDFs, certificates; "
                           "created on start-up when missing")
    s3_region: str = "us-east-1"

    max_document_size: int = Field(25 * MIB, ge=1, description="Largest PDF an envelope takes (bytes)")
    max_document_pages: int = Field(500, ge=1, description="Most pages of one PDF of an envelope")
    max_attachment_size: int = Field(10 * MIB, ge=1, description="Largest file a signer attaches (bytes)")
    max_signature_image_size: int = Field(300 * 1024, ge=1, description="Largest drawn signature (PNG bytes)")
    max_bulk_rows: int = Field(200, ge=1, le=5000, description="Rows one bulk send takes (one envelope each)")
    default_expiry_days: int = Field(30, ge=1, le=120, description="Envelope expiry when the sender gives none")
    poll_seconds: float = Field(1.0, gt=0, description="How often the worker looks for due jobs and expiries")

    data_key: SecretStr = Field(
        SecretStr(""), description="Base64 of 32 random bytes: the AES-GCM key of tenants' own seals at rest "
        "(required for tenants to give their own seal)")
    seal_pkcs12_path: str = Field(
        "", description="The platform's seal: a PKCS#12 file (key and certificate chain), read once at start-up")
    seal_pkcs12_password: SecretStr = SecretStr("")
    timestamp_url: str = Field(
        "", description="An RFC 3161 timestamp authority: with it seals are PAdES B-LTA, without it B-B")
    trust_roots_paths: list[str] = Field(
        default_factory=list, description="PEM files of the roots the seal's and the timestamp authority's chains "
        "end in, for B-LTA's validation data; empty: the seal file's own chain")
    seal_location: str = Field("", description="The seal's location field (e.g. the firm's city)")
