"""The admin port: ``/metrics``, ``/schema`` and the detailed readiness answer, apart from the port guests and
callers use.

With ``<SERVICE>_ADMIN_PORT`` set, an api process listens on both ports with one app: the admin port answers only
the internal paths (and liveness), the service's own port everything but them, so the gateway's public port
serves guests and a bare liveness answer only, and a deployment exposes the admin port to nobody but its probes
and its metrics scraper. A worker, which has no HTTP port of its own, then serves the same internal paths for
its own process. Without it (the local stack, the tests) everything stays on the one port.

Which port a request came in on is the listening socket's own address (``scope["server"]``), which no client
can change.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import uvicorn
from litestar import Litestar
from litestar.datastructures import State
from litestar.types import ASGIApp, Receive, Scope, Send
from uvicorn.main import STARTUP_FAILURE

from loginless.shared.settings import ServiceSettings
from loginless.shared.web.app import MetricsController
from loginless.shared.web.health import HealthController, KafkaProbe

INTERNAL_PATHS = ("/metrics", "/schema", "/health/ready")
LIVENESS_PATH = "/health/live"
# Where a request for an internal path on the service's own port is sent: a path no app serves, so the answer is
# the app's own "not found" (the gateway's, with its security headers and page).
NOT_SERVED_HERE = "/.not-served-on-this-port"


def is_internal(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in INTERNAL_PATHS)


class AdminPortSplit:
    """ASGI wrapper of a service's app listening on its own port and on ``admin_port``."""

    def __init__(self, app: ASGIApp, admin_port: int) -> None:
        self.app = app
        self.admin_port = admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        on_admin_port = (scope.get("server") or (None, None))[1] == self.admin_port
        if on_admin_port and not (is_internal(path) or path == LIVENESS_PATH):
            await _not_found(send)
        elif not on_admin_port and is_internal(path):
            await self.app({**scope, "path": NOT_SERVED_HERE, "raw_path": NOT_SERVED_HERE.encode(),
                            "query_string": b""}, receive, send)
        else:
            await self.app(scope, receive, send)


async def _not_found(send: Send) -> None:
    await send({"type": "http.response.start", "status": 404,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": b"Not found\n"})


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, reuse_port=False)


def serve_api(app: Litestar, settings: ServiceSettings, **options: Any) -> None:
    """Serve the api on its port, and on the admin port when one is set; ``options`` are uvicorn's."""
    if not settings.admin_port:
        uvicorn.run(app, host=settings.http_host, port=settings.http_port, **options)
        return
    app.asgi_handler = AdminPortSplit(app.asgi_handler, settings.admin_port)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.http_host, port=settings.http_port, **options))
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listening_socket(settings.http_host, settings.http_port),
                            listening_socket(settings.http_host, settings.admin_port)])
    if not server.started:  # as uvicorn.run: a start-up that failed (the app's lifespan) ends the process in error
        sys.exit(STARTUP_FAILURE)


@dataclass(frozen=True)
class WorkerProbes:
    """What the readiness answer of a worker checks: the same as an api's (HealthController reads these)."""

    pool: asyncpg.Pool
    kafka_probe: KafkaProbe


def worker_admin_app(pool: asyncpg.Pool, kafka_probe: KafkaProbe) -> Litestar:
    return Litestar(route_handlers=[HealthController, MetricsController], openapi_config=None,
                    state=State({"runtime": WorkerProbes(pool, kafka_probe)}))


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server running beside other work in a process that handles its own signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def worker_admin_server(settings: ServiceSettings, pool: asyncpg.Pool, kafka_probe: KafkaProbe) -> EmbeddedServer:
    return EmbeddedServer(uvicorn.Config(worker_admin_app(pool, kafka_probe), host=settings.http_host,
                                         port=settings.admin_port, log_config=None, access_log=False,
                                         lifespan="off", ws="none"))
