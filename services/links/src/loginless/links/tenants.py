"""Tenants (the firms) and their staff API keys.

These are plain rows, not event-sourced: no other service subscribes to them, and a change of branding or a
new key needs no history beyond its timestamps. Every other service checks staff keys by asking links
(``POST /internal/v1/api-keys/verify``); links itself checks them here, against its own tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import Enum
from typing import Any

import asyncpg

from loginless.links.domain import (
    is_email,
    normalize_phone,
)
from loginless.links.errors import InvalidFields
from loginless.links.tokens import ApiKey, api_key_hash, api_key_matches, new_api_key, parse_api_key
from loginless.shared.errors import LoginlessError, NotFound
from loginless.shared.eventstore import quote_ident
from loginless.shared.web.auth import StaffPrincipal

_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    logo_url: str | None = None
    color: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None


PROFILE_FIELDS = tuple(f.name for f in fields(Tenant) if f.name != "tenant_id")


def check_tenant(tenant: Tenant) -> None:
    """Branding ends up in e-mails and guest pages: only values that are safe there are accepted."""
    errors: list[dict[str, str]] = []

    def text(name: str, value: str | None, *, required: bool = False) -> None:
        if value is None:
            if required:
                errors.append({"field": name, "message": "is required"})
        elif not value.strip() or len(value) > 200 or _CONTROL_CHARACTERS.search(value):
            errors.append({"field": name, "message": "1 to 200 characters, without control characters"})

    if not _TENANT_ID.match(tenant.tenant_id):
        errors.append({"field": "tenant_id", "message": "1 to 64 letters, digits and _ . -"})
    text("name", tenant.name, required=True)
    text("contact_name", tenant.contact_name)
    if tenant.color is not None and not _COLOR.match(tenant.color):
        errors.append({"field": "color", "message": "a colour like #1f5f8b"})
    if tenant.logo_url is not None and (
            not re.match(r"^https?://[^\s\"'<>]+$", tenant.logo_url) or len(tenant.logo_url) > 2048):
        errors.append({"field": "logo_url", "message": "an http(s) URL of up to 2048 characters"})
    if tenant.contact_email is not None and not is_email(tenant.contact_email):
        errors.append({"field": "contact_email", "message": "not an e-mail address"})
    if tenant.contact_phone is not None and normalize_phone(tenant.contact_phone) is None:
        errors.append({"field": "contact_phone", "message": "an international number such as +34 600 000 000"})
    if errors:
        raise InvalidFields(errors)


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    created_at: datetime


class EnsureOutcome(Enum):
    CREATED = "created"
    EXISTED = "existed"


class KeyConflict(Exception):
    """``ensure`` was given a key whose id is registered with another secret, another tenant, or revoked."""


class Tenants:
    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = quote_ident(schema)

    async def get(self, tenant_id: str, connection: asyncpg.Connection | None = None) -> Tenant | None:
        row = await (connection or self._pool).fetchrow(
            f"SELECT tenant_id, {', '.join(PROFILE_FIELDS)} FROM {self._schema}.tenants WHERE tenant_id = $1",
            tenant_id,
        )
        return Tenant(**dict(row)) if row else None

    async def update(self, tenant_id: str, changes: dict[str, Any]) -> Tenant:
        """Apply ``changes`` (profile fields; ``None`` clears one) and return the tenant as it is now."""
        async with self._pool.acquire() as connection, connection.transaction():
            current = await connection.fetchrow(
                f"SELECT tenant_id, {', '.join(PROFILE_FIELDS)} FROM {self._schema}.tenants"
                " WHERE tenant_id = $1 FOR UPDATE", tenant_id)
            if current is None:
                raise NotFound("no such tenant")
            updated = replace(Tenant(**dict(current)), **changes)
            check_tenant(updated)
            await connection.execute(
                f"UPDATE {self._schema}.tenants SET "
                + ", ".join(f"{name} = ${n}" for n, name in enumerate(PROFILE_FIELDS, start=2))
                + ", updated_at = now() WHERE tenant_id = $1",
                tenant_id, *(getattr(updated, name) for name in PROFILE_FIELDS),
            )
        return updated

    async def create(self, tenant: Tenant) -> tuple[ApiKey, ApiKeyInfo]:
        """A new tenant and its first API key, in one transaction (``TenantExists`` if the id is taken)."""
        check_tenant(tenant)
        key = new_api_key()
        async with self._pool.acquire() as connection, connection.transaction():
            created = await connection.fetchval(
                f"INSERT INTO {self._schema}.tenants (tenant_id, {', '.join(PROFILE_FIELDS)})"
                f" VALUES ($1, {', '.join(f'${n}' for n in range(2, len(PROFILE_FIELDS) + 2))})"
                " ON CONFLICT (tenant_id) DO NOTHING RETURNING true",
                tenant.tenant_id, *(getattr(tenant, name) for name in PROFILE_FIELDS),
            )
            if not created:
                raise TenantExists(f"tenant {tenant.tenant_id} exists already", tenant_id=tenant.tenant_id)
            created_at = await connection.fetchval(
                f"INSERT INTO {self._schema}.api_keys (key_id, tenant_id, key_hash) VALUES ($1, $2, $3)"
                " RETURNING created_at",
                key.key_id, tenant.tenant_id, api_key_hash(key),
            )
        return key, ApiKeyInfo(key_id=key.key_id, created_at=created_at)

    async def ensure(self, tenant: Tenant, key: ApiKey) -> tuple[EnsureOutcome, EnsureOutcome]:
        """Create the tenant if missing and register ``key`` if not registered yet (how the tenant and key
        were before: created now or existed). A tenant that exists keeps its profile."""
        check_tenant(tenant)
        async with self._pool.acquire() as connection, connection.transaction():
            created_tenant = await connection.fetchval(
                f"INSERT INTO {self._schema}.tenants (tenant_id, {', '.join(PROFILE_FIELDS)})"
                f" VALUES ($1, {', '.join(f'${n}' for n in range(2, len(PROFILE_FIELDS) + 2))})"
                " ON CONFLICT (tenant_id) DO NOTHING RETURNING true",
                tenant.tenant_id, *(getattr(tenant, name) for name in PROFILE_FIELDS),
            )
            created_key = await connection.fetchval(
                f"INSERT INTO {self._schema}.api_keys (key_id, tenant_id, key_hash) VALUES ($1, $2, $3)"
                " ON CONFLICT (key_id) DO NOTHING RETURNING true",
                key.key_id, tenant.tenant_id, api_key_hash(key),
            )
            if not created_key:
                row = await connection.fetchrow(
                    f"SELECT tenant_id, key_hash, revoked_at FROM {self._schema}.api_keys WHERE key_id = $1",
                    key.key_id)
                if row["tenant_id"] != tenant.tenant_id or not api_key_matches(key, row["key_hash"]):
                    raise KeyConflict(f"key id {key.key_id} is registered already with another key or tenant")
                if row["revoked_at"] is not None:
                    raise KeyConflict(f"key {key.key_id} was revoked; register a new key instead")
        return (EnsureOutcome.CREATED if created_tenant else EnsureOutcome.EXISTED,
                EnsureOutcome.CREATED if created_key else EnsureOutcome.EXISTED)


class TenantExists(LoginlessError):
    status_code = 409
    problem_type = "tenant-exists"
    title = "A tenant with this id exists"


class ApiKeys:
    """A tenant's staff API keys. Also the links service's own ``ApiKeyVerifier``."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = quote_ident(schema)

    async def create(self, tenant_id: str) -> tuple[ApiKey, ApiKeyInfo]:
        key = new_api_key()
        created_at = await self._pool.fetchval(
            f"INSERT INTO {self._schema}.api_keys (key_id, tenant_id, key_hash) VALUES ($1, $2, $3)"
            " RETURNING created_at",
            key.key_id, tenant_id, api_key_hash(key),
        )
        return key, ApiKeyInfo(key.key_id, created_at)

    async def active(self, tenant_id: str, *, limit: int, after: tuple[datetime, str] | None = None,
                     ) -> list[ApiKeyInfo]:
        """Oldest first; ``after`` is the (created_at, key_id) of the previous page's last key."""
        rows = await self._pool.fetch(
            f"SELECT key_id, created_at FROM {self._schema}.api_keys WHERE tenant_id = $1 AND revoked_at IS NULL"
            " AND ($3::timestamptz IS NULL OR (created_at, key_id) > ($3, $4)) ORDER BY created_at, key_id LIMIT $2",
            tenant_id, limit, *(after or (None, None)),
        )
        return [ApiKeyInfo(**dict(row)) for row in rows]

    async def revoke(self, tenant_id: str, key_id: str) -> bool:
        """False if the tenant has no such active key."""
        return bool(await self._pool.fetchval(
            f"UPDATE {self._schema}.api_keys SET revoked_at = now()"
            " WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL RETURNING true",
            tenant_id, key_id,
        ))

    async def verify(self, api_key: str) -> StaffPrincipal | None:
        key = parse_api_key(api_key)
        if key is None:
            return None
        row = await self._pool.fetchrow(
            f"SELECT tenant_id, key_hash FROM {self._schema}.api_keys WHERE key_id = $1 AND revoked_at IS NULL",
            key.key_id,
        )
        if row is None or not api_key_matches(key, row["key_hash"]):
            return None
        return StaffPrincipal(tenant_id=row["tenant_id"], key_id=key.key_id)
