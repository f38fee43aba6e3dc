"""Settings of the signing service, read from ``SIGNING_*`` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from loginless.shared.settings import ServiceSettings


class SigningSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNING_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "signing"
