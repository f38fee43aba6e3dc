"""Settings of the payments service, read from ``PAYMENTS_*`` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from loginless.shared.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "payments"
