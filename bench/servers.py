"""The server processes the benchmarks start (``bench/gateway.py``, ``bench/documents.py``): a free port, waiting
until one answers, and the real gateway: its environment (what ``make run`` gives a service process, plus settings
for the run), a link seeded in its read model as its worker would on LinkIssued, and the cookie of a guest who
opened that link.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

COOKIE_SECRET = "bench-cookie-secret-0123456789abcdef"
SERVICE_OF_ACTION = {"view": "documents", "upload": "documents", "sign": "signing", "pay": "payments",
                     "request": "requests"}
CLOSED_PORT_URL = "http://127.0.0.1:9"  # nothing listens: what a run never calls
# Topics and consumer groups of this run's own, so no earlier run's offsets or records are read.
RUN_TOPIC_PREFIX = f"bench{os.getpid()}."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Until ``url`` answers (anything but a 5xx); fails at once if the server exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout} s")


def process_environment() -> dict[str, str]:
    """What the local stack's launcher gives every service process besides its settings."""
    from loginless.devstack.services import PROCESS_ENVIRONMENT

    return {**os.environ, **PROCESS_ENVIRONMENT}


def gateway_environment(port: int, private_key: str, service_urls: Mapping[str, str]) -> dict[str, str]:
    """``python -m loginless.gateway api`` on ``port``, routing each action to its service in ``service_urls``
    (services not named there are never reached in the run)."""
    routes = {action: {"service": service, "url": service_urls.get(service, CLOSED_PORT_URL)}
              for action, service in SERVICE_OF_ACTION.items()}
    return {
        **process_environment(),
        "GATEWAY_DATABASE_URL": os.environ["DATABASE_URL"],
        "GATEWAY_KAFKA_BOOTSTRAP_SERVERS": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "GATEWAY_HTTP_PORT": str(port),
        "GATEWAY_ASSERTION_PRIVATE_KEY": private_key,
        "GATEWAY_COOKIE_SECRET": COOKIE_SECRET,
        "GATEWAY_ROUTES": json.dumps(routes),
        "GATEWAY_LINKS_URL": CLOSED_PORT_URL,  # never called: the read model knows the links
        "GATEWAY_LOG_LEVEL": "INFO",  # as in production: an access line per proxied request
        "GATEWAY_TOPIC_PREFIX": RUN_TOPIC_PREFIX,
    }


def start_gateway_worker(environment: Mapping[str, str], log_path: Path) -> subprocess.Popen:
    """``python -m loginless.gateway worker``: it reports the read model caught up on ``links.events``. Without those
    reports a gateway, failing closed, asks links about every request (and answers 503 when links is not there)."""
    return subprocess.Popen([sys.executable, "-m", "loginless.gateway", "worker"], env=dict(environment),
                            stdout=log_path.open("wb"), stderr=subprocess.STDOUT)


def wait_until_ok(url: str, headers: Mapping[str, str], timeout: float = 60) -> httpx.Response:
    """Until ``url`` answers 200 (a gateway lets a guest through once its worker has reported); the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url, headers=dict(headers))
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def links_environment(port: int, *, public_url: str, schema: str, internal_secret: str) -> dict[str, str]:
    """``python -m loginless.links api`` on ``port``, in its own schema, with throwaway secrets of the run."""
    import base64
    import secrets

    return {
        **process_environment(),
        "LINKS_DATABASE_URL": os.environ["DATABASE_URL"],
        "LINKS_DATABASE_SCHEMA": schema,
        "LINKS_KAFKA_BOOTSTRAP_SERVERS": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "LINKS_HTTP_PORT": str(port),
        "LINKS_PUBLIC_URL": public_url,
        "LINKS_INTERNAL_API_SECRET": internal_secret,
        "LINKS_TOKEN_PEPPERS": f"bench:{secrets.token_urlsafe(32)}",
        "LINKS_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


async def seed_link(link_id: str, *, tenant_id: str, action: str, resource_id: str) -> None:
    """Put the link in the gateway's read model, as its worker would on LinkIssued."""
    import asyncpg

    from loginless.gateway.read_model import LinkFacts, LinkStateStore

    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=1)
    try:
        await LinkStateStore(pool, schema="gateway").merge(LinkFacts(
            link_id=link_id, tenant_id=tenant_id, action=action, resource_id=resource_id,
            recipient_email="bench@example.test", expires_at=datetime.now(UTC) + timedelta(days=1),
            verification="none"))
    finally:
        await pool.close()


def guest_cookie(link_id: str) -> str:
    """The cookie the gateway gives a guest who opened the link (and passed any verification)."""
    from loginless.gateway.guest_cookie import COOKIE_NAME, Grant, GuestCookies, GuestPass

    value = GuestCookies(COOKIE_SECRET, secure=False).encode(GuestPass(link_id, Grant.ACCESS, int(time.time()) + 86400))
    return f"{COOKIE_NAME}={value}"
