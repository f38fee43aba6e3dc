import uuid

import asyncpg
import pytest

from loginless.shared.eventstore import EventStore, migrate
from loginless.testkit.sample import PROJECTION_SQL


@pytest.fixture
def schema() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def store(database_url, schema):
    """An event store in a fresh schema of the real database, with a fresh topic name."""
    pool = await asyncpg.create_pool(database_url, min_size=0, max_size=40)
    async with pool.acquire() as connection:
        await migrate(connection, schema, [])
        await connection.execute(PROJECTION_SQL.replace("{schema}", f'"{schema}"'))
    yield EventStore(pool, schema=schema, topic=f"{schema}.events")
    async with pool.acquire() as connection:
        await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await pool.close()
