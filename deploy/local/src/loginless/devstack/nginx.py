"""nginx in front of the gateway and the services, in forward-auth mode: the configuration platform teams get
(``deploy/nginx/loginless.conf.template``), rendered for one machine and run as a process like the other servers.

:func:`render_config` needs no stack: it takes a listen port, the gateway's URL, each service's URL and a
directory, and writes an ``nginx.conf`` there that a benchmark can start as well as the test stack
(``nginx_command``). Debian: ``apt-get install nginx`` (``.ci/run`` installs it); its ``auth_request`` module is
built in.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from loginless.devstack.component import Component
from loginless.devstack.errors import ProvisioningError
from loginless.devstack.processes import LOOPBACK, PortSpec

TEMPLATE = Path(__file__).resolve().parents[4] / "nginx" / "loginless.conf.template"
NGINX = "/usr/sbin/nginx"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
# Where nginx would otherwise write temporary files: under its compiled-in prefix, which a process that is not
# the system's nginx may not own.
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{url!r}: an http:// URL with a host is needed")
    return f"{parts.hostname}:{parts.port or 80}"


def render_site(*, listen: str | int, gateway_url: str, service_urls: Mapping[str, str], cache_dir: Path,
                access_log: str = "off", template: Path = TEMPLATE) -> str:
    """The http-context part (``deploy/nginx/loginless.conf.template`` filled in): a server on ``listen`` in front
    of the gateway at ``gateway_url`` and of each owning service (name as in ``GATEWAY_ROUTES`` -> URL)."""
    upstreams = []
    for name, url in sorted(service_urls.items()):
        if not _SERVICE_NAME.match(name):
            raise ValueError(f"{name!r} is not a service name")
        upstreams.append(f"upstream loginless_{name} {{\n    server {_host_port(url)};\n    keepalive 32;\n"
                         "    keepalive_requests 10000;\n}")
    values = {"listen": str(listen), "gateway": _host_port(gateway_url), "service_upstreams": "\n".join(upstreams),
              "cache_dir": str(cache_dir), "access_log": access_log}

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ValueError(f"{template} has a placeholder nobody fills: {match.group(0)}")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(fill, template.read_text())


def render_config(directory: Path, *, listen_port: int, gateway_url: str, service_urls: Mapping[str, str],
                  listen_host: str = LOOPBACK, worker_processes: int | str = 1,
                  access_log: Path | None = None, template: Path = TEMPLATE) -> Path:
    """Write a complete ``nginx.conf`` into ``directory`` (with its cache and temporary directories) and return its
    path; start it with :func:`nginx_command`. With ``access_log``, a line per request goes to that file (tokens
    redacted); without, none. ``template``: another site with the same placeholders (a benchmark's baseline)."""
    directory = Path(directory).resolve()
    cache_dir, temp_dir = directory / "auth-cache", directory / "temp"
    writable = [cache_dir, *(temp_dir / name for name in _TEMP_PATHS)]
    for path in writable:
        path.mkdir(parents=True, exist_ok=True)
    lines = []
    if os.geteuid() == 0:
        # Started as root, nginx runs its workers as nobody, who may not enter the directories of a local run (a
        # test's temporary directory, a home directory). This configuration is for one's own machine and the
        # benchmark; production includes loginless.conf from its own nginx.conf, with its own user.
        lines.append("user root;")
    site = render_site(listen=f"{listen_host}:{listen_port}", gateway_url=gateway_url, service_urls=service_urls,
                       cache_dir=cache_dir, template=template,
                       access_log=f"{Path(access_log).resolve()} loginless" if access_log else "off")
    (directory / "loginless.conf").write_text(site)
    lines += [
        f"worker_processes {worker_processes};",
        f"pid {directory / 'nginx.pid'};",
        "error_log stderr warn;",
        "events {\n    worker_connections 1024;\n}",
        "http {",
        *(f"    {name}_temp_path {temp_dir / name};" for name in _TEMP_PATHS),
        f"    include {directory / 'loginless.conf'};",
        "}",
    ]
    config = directory / "nginx.conf"
    config.write_text("\n".join(lines) + "\n")
    return config


def nginx_command(config: Path, *, binary: str = NGINX) -> list[str]:
    """The command that runs ``config`` in the foreground, logging errors to stderr (``-e``: nginx would first
    open its compiled-in error log otherwise)."""
    config = Path(config).resolve()
    return [binary, "-e", "stderr", "-p", str(config.parent), "-c", str(config), "-g", "daemon off;"]


class NginxServer(Component):
    """nginx in forward-auth mode in front of a stack's gateway and services."""

    name = "nginx"

    def __init__(self, var_dir: Path, *, port: int, gateway_url: str, service_urls: Mapping[str, str],
                 port_env_var: str | None = None, binary: str | None = None) -> None:
        super().__init__(var_dir)
        self.port = port
        self.gateway_url = gateway_url
        self.service_urls = dict(service_urls)
        self.port_env_var = port_env_var
        self.binary = binary or shutil.which("nginx") or NGINX

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def ports(self) -> list[PortSpec]:
        return [PortSpec(self.port, "nginx (forward-auth)", self.port_env_var)]

    def prepare(self) -> None:
        if not Path(self.binary).exists():
            raise ProvisioningError("nginx is missing: apt-get install -y nginx")
        self._config = render_config(self.data_dir, listen_port=self.port, gateway_url=self.gateway_url,
                                     service_urls=self.service_urls,
                                     access_log=self.log_path.with_name(f"{self.name}-access.log"))

    def command(self) -> list[str]:
        return nginx_command(self._config, binary=self.binary)

    def probe(self) -> bool:
        with socket.create_connection((LOOPBACK, self.port), timeout=2):
            return True
