"""Settings of the payments service, read from ``PAYMENTS_*`` environment variables."""

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from loginless.links.client import LinksClientSettings
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.assertion import GuestAccessSettings


class PaymentsSettings(ServiceSettings, LinksClientSettings, GuestAccessSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "payments"

    poll_seconds: float = Field(1.0, gt=0, description="How often the worker looks for due jobs")
    test_provider_secret: SecretStr = Field(
        SecretStr(""), description="The built-in test provider's webhook signing secret; empty: a random one per "
        "process (enough for one replica of make run)")
