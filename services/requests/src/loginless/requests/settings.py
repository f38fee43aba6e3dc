"""Settings of the requests service, read from ``REQUESTS_*`` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from loginless.shared.settings import ServiceSettings


class RequestsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REQUESTS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "requests"
