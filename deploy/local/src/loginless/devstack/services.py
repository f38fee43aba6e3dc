"""The loginless services themselves, each run as ``python -m loginless.<service> api|worker``."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from loginless.devstack.component import Component
from loginless.devstack.processes import LOOPBACK, PortSpec
from loginless.shared.services import GUEST_ACTIONS, owner_of, service_names

SERVICES = service_names()

# Which service owns the guest pages of each link action: the gateway's routing table.
GUEST_ROUTES = {action: owner_of(action).name for action in GUEST_ACTIONS}

# A worker has no HTTP endpoint; it counts as started once it has stayed up this long.
WORKER_SETTLE_SECONDS = 1.0

# What every service process gets besides its settings (benchmarks start theirs with the same).
# MALLOC_ARENA_MAX: glibc gives each thread that allocates an arena of its own (up to 8 per core), and memory freed
# in one stays resident there; the services' worker threads (S3 calls, hashing) would each keep some. Two arenas
# are enough for an asyncio process whose threads mostly wait on sockets.
PROCESS_ENVIRONMENT = {"LOGINLESS_ENV": "development", "PYTHONUNBUFFERED": "1", "MALLOC_ARENA_MAX": "2"}


class ServiceProcess(Component):
    """One process of a service: ``api`` (HTTP, ready when ``/health/ready`` answers 200) or ``worker``.

    ``settings`` are the service's own variables without its prefix (``DATABASE_URL``, ``HTTP_PORT``…);
    they are passed as ``<SERVICE>_<KEY>``, the prefix its pydantic settings read.
    """

    keeps_data = False

    def __init__(
        self,
        var_dir: Path,
        service: str,
        role: str,
        *,
        port: int,
        settings: Mapping[str, str],
        port_env_var: str | None = None,
    ) -> None:
        if role not in ("api", "worker"):
            raise ValueError(f"unknown role {role!r}; expected 'api' or 'worker'")
        super().__init__(var_dir, name=f"{service}-{role}")
        self.service = service
        self.role = role
        self.port = port
        self.settings = dict(settings)
        self.port_env_var = port_env_var
        self._launched_at = 0.0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def ports(self) -> list[PortSpec]:
        return [PortSpec(self.port, f"{self.service} api", self.port_env_var)] if self.role == "api" else []

    def command(self) -> list[str]:
        return [sys.executable, "-m", f"loginless.{self.service}", self.role]

    def settings_environment(self) -> dict[str, str]:
        """The service's settings as the environment variables its pydantic settings read."""
        prefix = self.service.upper()
        return {f"{prefix}_{key}": value for key, value in self.settings.items()}

    def environment(self) -> dict[str, str]:
        return {**self.settings_environment(), **PROCESS_ENVIRONMENT}

    def launch(self) -> None:
        super().launch()
        self._launched_at = time.monotonic()

    def probe(self) -> bool:
        if self.role == "worker":
            return time.monotonic() - self._launched_at >= WORKER_SETTLE_SECONDS
        return httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200
