"""Settings of the links service, read from ``LINKS_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from loginless.events.payloads.links import GuestAction
from loginless.links.domain import CodeLockPolicy, CodeSendingCaps, ExpiryPolicy
from loginless.shared.services import GUEST_ACTIONS
from loginless.shared.settings import ServiceSettings

DAY = 24 * 60 * 60
SmsProvider = Literal["outbox-file", "twilio", "none"]


class LinksSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LINKS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "links"

    token_peppers: SecretStr = Field(
        SecretStr(""), description="'id2:secret2,id1:secret1': keys of the token hashes; the first hashes new "
        "tokens, the others keep verifying the links hashed with them (rotation)")
    data_key: SecretStr = Field(
        SecretStr(""), description="Base64 of 32 random bytes: the AES-GCM key for tokens waiting for delivery "
        "and stored idempotent responses")
    default_lifetime_seconds: dict[GuestAction, int] = Field(
        default_factory=dict, description='A link\'s lifetime when its issuer gives none, per action, as JSON: '
        '{"view": 2592000}; actions left out keep the registry\'s default (view and pay 30 days, upload and request '
        '14); a signing link always lasts 7 days')
    platform_admin_key: SecretStr = Field(
        SecretStr(""), description="The platform operator's credential for the platform API (/platform/v1: "
        "tenants and their first API key), at least 32 characters; empty (the default) leaves that API out")
    max_expiry_seconds: int = Field(365 * DAY, gt=0, description="No link may live longer than this")
    smtp_url: str = Field("smtp://127.0.0.1:1025", description="smtp://[user:password@]host:port, or smtps://")
    smtp_from: str = Field("loginless <no-reply@localhost>", description="Sender address of e-mails")
    smtp_timeout_seconds: float = Field(15.0, gt=0)
    sms_provider: SmsProvider = Field(
        "outbox-file", description="Where SMS go: twilio; none (every SMS is given up, the link reported failed); "
        "outbox-file, development only: a local file (refused when environment is production)")
    sms_outbox_path: str = Field(
        "var/sms-outbox.jsonl", description="The development SMS adapter appends each message here as JSON")
    sms_timeout_seconds: float = Field(
        10.0, gt=0, description="How long the SMS provider may take to answer; no answer by then is retried")
    twilio_api_url: str = Field(
        "https://api.twilio.com", pattern=r"^https?://[^/?#]+$",
        description="Twilio's REST API (another address only for a test double)")
    twilio_account_sid: str = Field("", pattern=r"^(AC[0-9a-fA-F]{32})?$", description="The account (AC...)")
    twilio_auth_token: SecretStr = Field(
        SecretStr(""), description="The account's auth token; or leave it empty and give an API key")
    twilio_key_sid: str = Field("", pattern=r"^(SK[0-9a-fA-F]{32})?$", description="An API key (SK...) of the account")
    twilio_key_secret: SecretStr = Field(SecretStr(""), description="That API key's secret")
    twilio_from: str = Field(
        "", description="The sender: a Twilio number in E.164 (+15005550006) or an alphanumeric sender id")
    twilio_messaging_service_sid: str = Field(
        "", pattern=r"^(MG[0-9a-fA-F]{32})?$", description="A messaging service (MG...) that picks the sender")
    delivery_max_attempts: int = Field(8, ge=1, description="Sends tried before a delivery is given up")
    delivery_retry_seconds: float = Field(
        5.0, gt=0, description="Wait before the first retry; doubles with each attempt, up to 10 minutes")
    delivery_poll_seconds: float = Field(0.5, gt=0, description="How often the worker looks for deliveries")
    access_record_retention_days: int = Field(
        90, ge=1, description="Days the IP address and user agent of each open and use are kept")
    ended_link_retention_days: int = Field(
        365, ge=1, description="Days a link is kept after it ended (expired, revoked or used up); then it is "
        "forgotten whole: its events, recipient details, token hash and access records")
    code_sends_per_hour: int = Field(
        5, ge=1, description="One-time codes one link may send within an hour (beyond the 30 s between two)")
    code_sends_per_day: int = Field(10, ge=1, description="One-time codes one link may send within a day")
    code_lock_seconds: int = Field(
        900, ge=1, description="How long a link refuses codes after five wrong ones; doubles at each further lock")
    code_lock_max_seconds: int = Field(86_400, ge=1, description="The longest a link ever refuses codes at once")
    expiry_sweep_seconds: float = Field(
        30, gt=0, description="How often the worker records LinkExpired for links whose expiry passed")

    @field_validator("sms_provider")
    @classmethod
    def _outbox_only_in_development(cls, provider: SmsProvider, info: ValidationInfo) -> SmsProvider:
        if provider == "outbox-file" and info.data.get("environment") == "production":
            raise ValueError("LINKS_SMS_PROVIDER=outbox-file writes SMS with live links to a local file and is for "
                             "development only; in production set LINKS_SMS_PROVIDER=twilio (or none)")
        return provider

    @model_validator(mode="after")
    def _twilio_complete(self) -> LinksSettings:
        if self.sms_provider != "twilio":
            return self
        missing = [name for name, given in (
            ("LINKS_TWILIO_ACCOUNT_SID", self.twilio_account_sid),
            ("LINKS_TWILIO_FROM or LINKS_TWILIO_MESSAGING_SERVICE_SID",
             self.twilio_from or self.twilio_messaging_service_sid),
            ("LINKS_TWILIO_AUTH_TOKEN, or LINKS_TWILIO_KEY_SID and LINKS_TWILIO_KEY_SECRET",
             self._twilio_credentials()),
        ) if not given]
        if missing:
            raise ValueError(f"LINKS_SMS_PROVIDER=twilio needs {'; '.join(missing)}")
        if self.environment == "production" and not self.twilio_api_url.startswith("https://"):
            raise ValueError("LINKS_TWILIO_API_URL must be https:// in production")
        return self

    def _twilio_credentials(self) -> tuple[str, str] | None:
        """Basic auth for Twilio: an API key when one is given (whole), else the account and its auth token."""
        key_secret = self.twilio_key_secret.get_secret_value()
        if self.twilio_key_sid or key_secret:
            return (self.twilio_key_sid, key_secret) if self.twilio_key_sid and key_secret else None
        token = self.twilio_auth_token.get_secret_value()
        return (self.twilio_account_sid, token) if token else None

    def twilio_credentials(self) -> tuple[str, str]:
        credentials = self._twilio_credentials()
        if credentials is None:
            raise ValueError("no Twilio credentials are set")
        return credentials

    @field_validator("platform_admin_key")
    @classmethod
    def _long_enough(cls, key: SecretStr) -> SecretStr:
        if key.get_secret_value() and len(key.get_secret_value()) < 32:
            raise ValueError("the platform admin key must be at least 32 characters (or empty: no platform API)")
        return key

    @field_validator("default_lifetime_seconds")
    @classmethod
    def _adjustable_and_positive(cls, lifetimes: dict[GuestAction, int]) -> dict[GuestAction, int]:
        for action, seconds in lifetimes.items():
            if not GUEST_ACTIONS[action].adjustable:
                raise ValueError(f"the lifetime of a {action} link is fixed")
            if seconds <= 0:
                raise ValueError(f"the lifetime of a {action} link must be positive")
        return lifetimes

    def default_lifetimes(self) -> dict[GuestAction, timedelta]:
        return {action: timedelta(seconds=self.default_lifetime_seconds[action])
                if action in self.default_lifetime_seconds else spec.default_lifetime
                for action, spec in GUEST_ACTIONS.items()}

    def code_sending_caps(self) -> CodeSendingCaps:
        return CodeSendingCaps(per_hour=self.code_sends_per_hour, per_day=self.code_sends_per_day)

    def code_lock_policy(self) -> CodeLockPolicy:
        return CodeLockPolicy(first=timedelta(seconds=self.code_lock_seconds),
                              longest=timedelta(seconds=max(self.code_lock_seconds, self.code_lock_max_seconds)))

    def expiry_policy(self) -> ExpiryPolicy:
        return ExpiryPolicy(defaults=self.default_lifetimes(), maximum=timedelta(seconds=self.max_expiry_seconds))
