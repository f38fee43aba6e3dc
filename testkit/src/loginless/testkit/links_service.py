"""The real links service over HTTP, for the tests that cannot use :class:`~loginless.testkit.fake_links.FakeLinks`
because the caller runs as a process of its own (and for links' contract suite, whose real side this is).

:func:`served_links` runs links' own app under uvicorn on a free loopback port, on a PostgreSQL schema of the
test's own (made by the app's migrations, dropped afterwards); callers talk to it with links' one client.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from loginless.links.bootstrap import create_app
from loginless.links.client import LinksClient
from loginless.links.settings import LinksSettings
from loginless.links.tenants import Tenant, Tenants
from loginless.links.tokens import new_api_key
from loginless.shared.eventstore import quote_ident
from loginless.testkit.fake_services import serve


def links_settings(database_url: str, kafka_bootstrap_servers: str, *, internal_secret: str,
                   public_url: str = "https://guests.example.test", **overrides: Any) -> LinksSettings:
    """Settings for a links of the test's own: a new schema and topic prefix, fresh peppers and data key."""
    schema = f"links_test_{uuid.uuid4().hex[:12]}"
    return LinksSettings(**{
        "database_url": database_url, "kafka_bootstrap_servers": kafka_bootstrap_servers, "database_schema": schema,
        "topic_prefix": f"{schema}.", "public_url": public_url, "internal_api_secret": internal_secret,
        "token_peppers": f"p1:{secrets.token_urlsafe(32)}",
        "data_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        **overrides,
    })


@dataclass
class ServedLinks:
    url: str
    settings: LinksSettings
    client: LinksClient
    pool: asyncpg.Pool

    async def add_tenant(self, name: str = "Demo Firm", **profile: str | None) -> tuple[str, str]:
        """A new firm with one staff API key, as links' ``tenant ensure`` command makes them; returns both."""
        tenant_id, key = f"firm-{uuid.uuid4().hex[:8]}", new_api_key()
        await Tenants(self.pool, self.settings.schema).ensure(Tenant(tenant_id=tenant_id, name=name, **profile), key)
        return tenant_id, key.value


@asynccontextmanager
async def served_links(settings: LinksSettings, *,
                       clock: Callable[[], datetime] | None = None) -> AsyncIterator[ServedLinks]:
    """Links' API on a free port for the duration of the block (``clock`` decides expiry, as in production)."""
    app = create_app(settings, clock=clock) if clock is not None else create_app(settings)
    pool = await asyncpg.create_pool(settings.database_url, min_size=0, max_size=2)
    try:
        async with serve(app) as url:
            client = LinksClient(url, settings.internal_api_secret.get_secret_value())
            try:
                yield ServedLinks(url, settings, client, pool)
            finally:
                await client.close()
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {quote_ident(settings.schema)} CASCADE")
        await pool.close()
