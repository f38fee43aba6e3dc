"""Settings of the requests service, read from ``REQUESTS_*`` environment variables."""

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from loginless.documents.client import DocumentsClientSettings
from loginless.links.client import LinksClientSettings
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.assertion import GuestAccessSettings


class RequestsSettings(ServiceSettings, LinksClientSettings, DocumentsClientSettings, GuestAccessSettings):
    model_config = SettingsConfigDict(env_prefix="REQUESTS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "requests"

    s3_endpoint: str = Field("http://127.0.0.1:9000", description="S3-compatible storage of staged uploads")
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = Field("loginless-requests", description="The service's own bucket; created when missing")
    s3_region: str = "us-east-1"

    default_lifetime_days: int = Field(14, ge=1, le=365, description="Recipients' links last this long when a "
                                       "request has no due date (else until a week after it)")
    answers_in_event_limit: int = Field(
        64 * 1024, ge=0, description="Answers larger than this (bytes of JSON) travel in ClientRequestCompleted "
        "as a reference to the staff API rather than inline")
    max_save_bytes: int = Field(256 * 1024, ge=1024, description="Largest autosave or form a guest may post")
    draft_retention_days: float = Field(
        90, gt=0, description="Drafts untouched this long, and uploads never submitted, are removed")
    job_retry_seconds: float = Field(2, gt=0, description="First wait before retrying links or documents; "
                                     "doubles each time, up to 5 minutes")
    job_poll_seconds: float = Field(1, gt=0, description="How often the worker looks for jobs")
    maintenance_interval_seconds: float = Field(3600, gt=0, description="How often the worker removes old drafts")
