"""Plain, numbered SQL migrations applied once per schema, under an advisory lock so replicas can race safely."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

KERNEL_MIGRATIONS = files("loginless.shared.eventstore") / "sql"


def quote_ident(name: str) -> str:
    if not name.isidentifier() or not name.islower():
        raise ValueError(f"schema names are lower-case identifiers, got {name!r}")
    return f'"{name}"'


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock``, derived from names rather than hard-coded numbers."""
    digest = hashlib.blake2b("/".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def migrate(connection: asyncpg.Connection, schema: str, directories: Iterable[Path]) -> list[str]:
    """Apply every ``NNNN_*.sql`` file not yet applied to ``schema``; return the names applied now.

    Kernel migrations come first and are named ``kernel/NNNN_...``; each service's come from its own
    ``migrations/`` directory and may use ``{schema}`` to name its schema.
    """
    quoted = quote_ident(schema)
    sources: list[tuple[str, str]] = [
        (f"kernel/{entry.name}", entry.read_text())
        for entry in sorted(KERNEL_MIGRATIONS.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".sql")
    ]
    for directory in directories:
        sources += [(path.name, path.read_text()) for path in sorted(Path(directory).glob("[0-9]*.sql"))]

    applied_now: list[str] = []
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", advisory_key("migrate", schema))
        await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        await connection.execute(
            f"CREATE TABLE IF NOT EXISTS {quoted}.schema_migrations"
            " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await connection.fetch(f"SELECT name FROM {quoted}.schema_migrations")}
        for name, sql in sources:
            if name in done:
                continue
            await connection.execute(sql.replace("{schema}", quoted))
            await connection.execute(f"INSERT INTO {quoted}.schema_migrations (name) VALUES ($1)", name)
            applied_now.append(name)
    if applied_now:
        log.info("migrations applied", schema=schema, migrations=applied_now)
    return applied_now
