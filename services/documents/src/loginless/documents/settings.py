"""Settings of the documents service, read from ``DOCUMENTS_*`` environment variables."""

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from loginless.shared.settings import ServiceSettings


class DocumentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DOCUMENTS_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "documents"
