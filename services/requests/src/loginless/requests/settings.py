"""Settings of the requests service, read from ``REQUESTS_*`` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from loginless.links.client import LinksClientSettings
from loginless.shared.settings import ServiceSettings
from loginless.shared.web.assertion import GuestAccessSettings


class RequestsSettings(ServiceSettings, LinksClientSettings, GuestAccessSettings):
    model_config = SettingsConfigDict(env_prefix="REQUESTS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "requests"
