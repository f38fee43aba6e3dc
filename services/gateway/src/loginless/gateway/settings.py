"""Settings of the gateway service, read from ``GATEWAY_*`` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from loginless.shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "gateway"
