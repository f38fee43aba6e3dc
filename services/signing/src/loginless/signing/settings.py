"""Settings of the signing service, read from ``SIGNING_*`` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from loginless.links.client import LinksClientSettings
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.assertion import GuestAccessSettings


class SigningSettings(ServiceSettings, LinksClientSettings, GuestAccessSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNING_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "signing"
