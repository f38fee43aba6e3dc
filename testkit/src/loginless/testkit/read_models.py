"""Read models as plain data, to compare what projections kept live with what a rebuild makes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable, Mapping

import asyncpg

from loginless.shared.eventstore import quote_ident


async def snapshot(pool: asyncpg.Pool, schema: str, tables: Iterable[str]) -> dict[str, list[dict]]:
    """Every row of ``tables``, in an order that does not depend on how they were written."""
    taken = {}
    for table in tables:
        rows = await pool.fetch(f"SELECT * FROM {quote_ident(schema)}.{quote_ident(table)}")
        taken[table] = sorted((dict(row) for row in rows), key=lambda row: repr(sorted(row.items())))
    return taken


async def rebuild_with_the_command(service: str, settings: Mapping[str, str]) -> str:
    """Run ``python -m loginless.<service> projections rebuild`` as an operator would, with the service's
    settings (``{"DATABASE_URL": ..., ...}``, prefixed here); returns what it printed. Fails if it fails."""
    prefix = service.upper()
    environment = {**os.environ, **{f"{prefix}_{key}": value for key, value in settings.items()}}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"loginless.{service}", "projections", "rebuild", env=environment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    return output.decode()
