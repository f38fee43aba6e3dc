"""Service-specific commands of ``python -m loginless.links``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

import asyncpg

from loginless.links.bootstrap import MIGRATIONS
from loginless.links.errors import InvalidFields
from loginless.links.settings import LinksSettings
from loginless.links.tenants import EnsureOutcome, KeyConflict, Tenant, Tenants, check_tenant
from loginless.links.tokens import ApiKey, parse_api_key
from loginless.shared.eventstore import migrate


def ensure_tenant(read_settings: Callable[[], LinksSettings], arguments: list[str]) -> None:
    """Create a tenant if missing and register an API key for it if not registered yet.

    Safe to run again and again (``make run`` does, for the development tenant). An existing tenant keeps its
    profile; change it with ``PATCH /v1/tenant``.
    """
    parser = argparse.ArgumentParser(prog="python -m loginless.links ensure-tenant", description=ensure_tenant.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenant-id", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--api-key", required=True,
                        help="ll_<key id>_<secret>: key id 1-32 letters or digits, secret 43+ base64url characters")
    parser.add_argument("--contact-name")
    parser.add_argument("--contact-email")
    parser.add_argument("--contact-phone")
    parser.add_argument("--color", help="#rrggbb")
    parser.add_argument("--logo-url")
    options = parser.parse_args(arguments)

    key = parse_api_key(options.api_key)
    if key is None:
        parser.error("--api-key must look like ll_<key id>_<secret> (secret: 43+ base64url characters)")
    tenant = Tenant(tenant_id=options.tenant_id, name=options.name, logo_url=options.logo_url, color=options.color,
                    contact_name=options.contact_name, contact_email=options.contact_email,
                    contact_phone=options.contact_phone)
    try:
        check_tenant(tenant)  # before touching the database
    except InvalidFields as error:
        parser.error(error.detail)
    try:
        tenant_outcome, key_outcome = asyncio.run(_ensure(read_settings(), tenant, key))
    except KeyConflict as error:
        print(f"links: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"links: tenant {tenant.tenant_id} {tenant_outcome.value}; API key {key.key_id} "
          f"{'registered' if key_outcome is EnsureOutcome.CREATED else 'already registered'}")


async def _ensure(settings: LinksSettings, tenant: Tenant, key: ApiKey) -> tuple[EnsureOutcome, EnsureOutcome]:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection:
            await migrate(connection, settings.schema, [MIGRATIONS])
        return await Tenants(pool, settings.schema).ensure(tenant, key)
    finally:
        await pool.close()


# The commands ``python -m loginless.links`` has besides every service's own.
EXTRA_COMMANDS = {"ensure-tenant": ensure_tenant}
