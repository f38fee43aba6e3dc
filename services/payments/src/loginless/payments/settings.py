"""Settings of the payments service, read from ``PAYMENTS_*`` environment variables."""

from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from loginless.links.client import LinksClientSettings
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.assertion import GuestAccessSettings


class PaymentsSettings(ServiceSettings, LinksClientSettings, GuestAccessSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "payments"

    poll_seconds: float = Field(1.0, gt=0, description="How often the worker looks for due jobs")
    provider: Literal["test", "stripe"] = Field(
        "test", description="Who takes card payments: Stripe, or the built-in test provider (no account anywhere, no "
        "money moved; refused when environment is production)")
    test_provider_secret: SecretStr = Field(
        SecretStr(""), description="The built-in test provider's webhook signing secret; empty: a random one per "
        "process (enough for one replica of make run)")
    stripe_secret_key: SecretStr = Field(SecretStr(""), description="Stripe's secret (or restricted) API key")
    stripe_webhook_secret: SecretStr = Field(
        SecretStr(""), description="The signing secret (whsec_…) of the webhook endpoint registered at Stripe")
    stripe_api_base: str | None = Field(
        None, description="Another base URL for Stripe's API (stripe-mock in tests); empty: Stripe's own")
    stripe_checkout_minutes: int = Field(
        30, ge=30, le=1430, description="How long a Checkout page stays payable (Stripe allows 30 minutes to 24 "
        "hours): an abandoned one holds its amount back until then")
    sweep_seconds: float = Field(60.0, gt=0, description="How often the worker looks for payments with no report")
    sweep_after_seconds: float = Field(
        900.0, gt=0, description="How long a payment may be processing before the worker asks the provider about it")

    @model_validator(mode="after")
    def no_test_payments_in_production(self) -> Self:
        if self.provider == "test" and self.environment == "production":
            raise ValueError("PAYMENTS_PROVIDER=test lets a guest mark an invoice paid with a button and takes no "
                             "money; it is for development only: in production set PAYMENTS_PROVIDER=stripe")
        return self

    @model_validator(mode="after")
    def stripe_needs_its_keys(self) -> Self:
        if self.provider == "stripe":
            missing = [name for name, value in (("PAYMENTS_STRIPE_SECRET_KEY", self.stripe_secret_key),
                                                ("PAYMENTS_STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret))
                       if not value.get_secret_value()]
            if missing:
                raise ValueError(f"PAYMENTS_PROVIDER=stripe needs {' and '.join(missing)}")
        return self
