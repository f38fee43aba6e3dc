"""A firm's staff API key as tests hold it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StaffKey:
    tenant_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}
