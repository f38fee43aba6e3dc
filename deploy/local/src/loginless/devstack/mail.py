"""Mailpit: an SMTP sink with a web inbox and an HTTP API that tests read messages from."""

from __future__ import annotations

from pathlib import Path

import httpx

from loginless.devstack.component import Component
from loginless.devstack.processes import LOOPBACK, PortSpec


class MailServer(Component):
    """Mailpit storing messages in ``<var_dir>/data/mail/mailpit.db``."""

    name = "mail"

    def __init__(
        self,
        var_dir: Path,
        binary: Path,
        *,
        smtp_port: int = 11025,
        ui_port: int = 18025,
        smtp_port_env_var: str | None = None,
        ui_port_env_var: str | None = None,
    ) -> None:
        super().__init__(var_dir)
        self.binary = Path(binary)
        self.smtp_port = smtp_port
        self.ui_port = ui_port
        self.smtp_port_env_var = smtp_port_env_var
        self.ui_port_env_var = ui_port_env_var

    @property
    def smtp_url(self) -> str:
        return f"smtp://{LOOPBACK}:{self.smtp_port}"

    @property
    def ui_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ui_port}"

    @property
    def url(self) -> str:
        return self.smtp_url

    @property
    def ports(self) -> list[PortSpec]:
        return [
            PortSpec(self.smtp_port, f"{self.name} smtp", self.smtp_port_env_var),
            PortSpec(self.ui_port, f"{self.name} ui", self.ui_port_env_var),
        ]

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "--database",
            str(self.data_dir / "mailpit.db"),
            "--smtp",
            f"{LOOPBACK}:{self.smtp_port}",
            "--listen",
            f"{LOOPBACK}:{self.ui_port}",
            "--smtp-auth-accept-any",  # services may send credentials; a local sink accepts them all
            "--smtp-auth-allow-insecure",
            "--disable-version-check",  # no calls home (and none possible on isolated machines)
        ]

    def probe(self) -> bool:
        return httpx.get(f"{self.ui_url}/api/v1/messages", timeout=2).status_code == 200
