"""stripe-mock: Stripe's own mock of its API, which checks every request against Stripe's OpenAPI description and
answers with fixtures (it keeps no state). The test stack runs it for the Stripe adapter's tests."""

from __future__ import annotations

from pathlib import Path

import httpx

from loginless.devstack.component import Component
from loginless.devstack.processes import LOOPBACK, PortSpec


class StripeMockServer(Component):
    name = "stripe-mock"
    keeps_data = False

    def __init__(
        self,
        var_dir: Path,
        binary: Path,
        *,
        http_port: int = 12111,
        https_port: int = 12112,
        http_port_env_var: str | None = None,
        https_port_env_var: str | None = None,
    ) -> None:
        super().__init__(var_dir)
        self.binary = Path(binary)
        self.http_port = http_port
        self.https_port = https_port
        self.http_port_env_var = http_port_env_var
        self.https_port_env_var = https_port_env_var

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def ports(self) -> list[PortSpec]:
        return [
            PortSpec(self.http_port, f"{self.name} http", self.http_port_env_var),
            PortSpec(self.https_port, f"{self.name} https", self.https_port_env_var),
        ]

    def command(self) -> list[str]:
        # Both addresses on loopback: given only one, stripe-mock listens for the other on every interface.
        return [
            str(self.binary),
            "-http-addr",
            f"{LOOPBACK}:{self.http_port}",
            "-https-addr",
            f"{LOOPBACK}:{self.https_port}",
        ]

    def probe(self) -> bool:
        answer = httpx.get(f"{self.url}/v1/balance", headers={"Authorization": "Bearer sk_test_123"}, timeout=2)
        return answer.status_code == 200
