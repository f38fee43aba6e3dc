"""Settings of the links service, read from ``LINKS_*`` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from loginless.shared.settings import ServiceSettings


class LinksSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LINKS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "links"
