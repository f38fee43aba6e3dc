"""Settings of the notifications service, read from ``NOTIFICATIONS_*`` environment variables."""

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from loginless.links.client import LinksClientSettings
from loginless.payments.client import PaymentsClientSettings
from loginless.shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings, LinksClientSettings, PaymentsClientSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "notifications"

    smtp_url: str = Field("smtp://127.0.0.1:1025", description="smtp://[user:password@]host:port, or smtps://")
    smtp_from: str = Field("loginless <no-reply@localhost>", description="Sender address; the firm's name is shown")
    smtp_timeout_seconds: float = Field(15.0, gt=0)
    unsubscribe_secret: SecretStr = Field(
        SecretStr(""), description="Key of the signed one-click unsubscribe links in owner alerts (any long random "
        "string); required for the API to answer them")
    poll_seconds: float = Field(1.0, gt=0, description="How often the worker looks for mails and reminders due")
    receipt_quiet_seconds: float = Field(
        60, ge=0, description="Files uploaded through one link within this long of each other are acknowledged "
        "in one receipt (and one owner alert)")
    send_batch_size: int = Field(20, ge=1, description="Mails one worker claims at a time (replicas share the rest)")
    send_max_attempts: int = Field(8, ge=1, description="Sends tried before a mail is given up")
    send_retry_seconds: float = Field(
        30, gt=0, description="Wait before the first retry; doubles with each attempt, up to an hour")
    webhook_data_key: SecretStr = Field(
        SecretStr(""), description="Base64 of 32 random bytes: the AES-GCM key of the webhook signing secrets at rest "
        "(required to create webhook endpoints)")
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="How long an endpoint has to answer one event")
    webhook_retry_seconds: list[float] = Field(
        default_factory=lambda: [5, 300, 1800, 7200, 18000, 36000],
        description="Waits before each retry of an event an endpoint did not take (the last one repeats) ...")
    webhook_retry_for_seconds: float = Field(
        86400, gt=0, description="... until this long after the first attempt; then the delivery is failed")
    webhook_endpoint_concurrency: int = Field(
        20, ge=1, description="Endpoints a worker sends to at once: one slow endpoint holds one of these only")
    webhook_allow_private_addresses: bool = Field(
        False, description="Let endpoints point at loopback, private or link-local addresses (tests only)")
    record_retention_days: int = Field(
        90, ge=1, description="Days the record of a mail sent (its recipient's address) and what other services "
        "said about a link (its recipient) are kept after the mail went or the link expired; then forgotten")
    send_lease_seconds: float = Field(
        120, gt=0, description="A claimed mail whose worker died is sent again after this long (keep it above the "
        "SMTP timeout)")
