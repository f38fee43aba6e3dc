"""Settings of the documents service, read from ``DOCUMENTS_*`` environment variables."""

from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from loginless.links.client import LinksClientSettings
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.assertion import GuestAccessSettings

MIB = 1024 * 1024


class DocumentsSettings(ServiceSettings, LinksClientSettings, GuestAccessSettings):
    model_config = SettingsConfigDict(env_prefix="DOCUMENTS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "documents"

    s3_endpoint: str = Field("http://127.0.0.1:9000", description="S3-compatible object storage")
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = Field("loginless-documents", description="Created on start-up when missing")
    s3_region: str = "us-east-1"
    s3_public_endpoint: str = Field(
        "", description="S3 as guests' browsers reach it, for presigned download URLs; empty: s3_endpoint")

    download_delivery: Literal["presigned", "stream"] = Field(
        "presigned", description="How a guest's download is served: a 303 to a short-lived presigned S3 URL, or "
        "streamed through this service and the gateway (for deployments whose S3 guests cannot reach)")
    download_url_expiry_seconds: int = Field(
        60, ge=1, le=7 * 24 * 3600, description="Lifetime of a presigned download URL (S3 allows up to 7 days)")

    max_document_size: int = Field(2 * 1024 * MIB, ge=1, description="Largest document staff may upload (bytes)")
    max_upload_file_size: int = Field(
        2 * 1024 * MIB, ge=1, description="Ceiling for an upload request's per-file limit (bytes)")
    default_upload_file_size: int = Field(100_000_000, ge=1, description="Per-file limit when a request sets none")
    default_upload_max_files: int = Field(20, ge=1)
    upload_part_size: int = Field(
        5 * MIB, ge=5 * MIB, description="Bytes per S3 part (S3's smallest); a PATCH holds at most two parts in "
        "memory, which is most of what an upload costs the process")
    upload_buffer_bytes: int = Field(
        256 * MIB, ge=5 * MIB, description="Bytes all uploads in progress may hold in part buffers at once, per "
        "process; an upload finding no room waits up to upload_buffer_wait_seconds, then gets 503 with Retry-After")
    upload_buffer_wait_seconds: float = Field(5.0, ge=0, le=60)
    upload_chunk_size: int = Field(
        60 * MIB, ge=5 * MIB, description="Bytes per PATCH the upload page sends (tus chunkSize): a whole number of "
        "parts, stored while the rest arrives; under the request size limits of common proxies")
    abandoned_upload_hours: float = Field(
        48, gt=0, description="Unfinished resumable uploads untouched this long are aborted and forgotten")

    scanner: Literal["clamd", "none"] = Field(
        "clamd", description="What scans guests' uploads before they become visible: ClamAV's daemon, or none "
        "(every file passes: for development without ClamAV only)")
    clamd_address: str = Field(
        "tcp://127.0.0.1:3310", description="clamd's socket: tcp://host:port or unix:///path/to/clamd.ctl")
    clamd_timeout_seconds: float = Field(
        120, gt=0, description="Longest wait for clamd's verdict on one file; past it the upload is refused (503)")

    access_record_retention_days: float = Field(
        90, gt=0, description="How long guests' access records (IP address, user agent) are kept")
    maintenance_interval_seconds: float = Field(3600, gt=0, description="How often the worker purges and tidies")

    default_share_expiry_days: int = Field(30, ge=1, description="Share expiry when the caller gives none")
    preview_cache_dir: str = Field(
        "", description="Where the rendered pages of view-only shares are kept for a few minutes (local to each "
        "replica); empty: a folder in the system's temporary directory")
    preview_keep_minutes: float = Field(10, gt=0, description="How long rendered pages are kept after their last use")
    preview_max_pages: int = Field(200, ge=1, description="Pages of a view-only PDF a guest can see")
    preview_concurrency: int = Field(2, ge=1, description="View-only renders at once per replica (child processes)")

    link_issuing_deadline_seconds: float = Field(
        3600, gt=0, le=20 * 3600, description="How long the worker keeps trying to issue a share's or an upload "
        "request's links before the request ends failed (within the 24 hours links replays an issue)")
    link_job_retry_seconds: float = Field(
        2, gt=0, description="Wait before retrying a call to links that failed; doubles each time, up to 5 minutes")
    link_job_poll_seconds: float = Field(1, gt=0, description="How often the worker looks for links jobs")

    @field_validator("s3_endpoint", "s3_public_endpoint")
    @classmethod
    def _endpoint(cls, value: str, info) -> str:  # noqa: ANN001
        """An S3 endpoint is scheme and host only: the ``minio`` client takes no path, and a presigned URL is
        signed for exactly this host."""
        if value == "" and info.field_name == "s3_public_endpoint":
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") \
                or parts.query or parts.fragment:
            raise ValueError(f"{info.field_name} must be http(s)://host[:port] with no path, got {value!r}")
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("clamd_address")
    @classmethod
    def _clamd_address(cls, value: str) -> str:
        parts = urlsplit(value)
        if not ((parts.scheme == "tcp" and parts.hostname) or (parts.scheme == "unix" and parts.path)):
            raise ValueError(f"clamd_address must be tcp://host:port or unix:///path, got {value!r}")
        return value

    @model_validator(mode="after")
    def _whole_parts_per_patch(self) -> "DocumentsSettings":
        """A PATCH that is not a whole number of parts leaves a remainder below S3's minimum part, which must
        be stored as a separate object and read back by the next PATCH: a round trip to S3 per PATCH."""
        if self.upload_chunk_size % self.upload_part_size:
            raise ValueError(f"upload_chunk_size ({self.upload_chunk_size}) must be a multiple of upload_part_size "
                             f"({self.upload_part_size})")
        return self

    @property
    def s3_guest_endpoint(self) -> str:
        """Where presigned download URLs point."""
        return self.s3_public_endpoint or self.s3_endpoint
