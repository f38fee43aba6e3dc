"""Liveness and readiness. Ready means this process can reach PostgreSQL and Kafka right now."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from litestar import Controller, MediaType, Response, get
from litestar.datastructures import State

from loginless.shared.kafka_connection import KafkaConnection

PROBE_TIMEOUT_SECONDS = 2.0


class KafkaProbe:
    """Asks the cluster for its metadata over one long-lived client, reconnecting when the broker returns."""

    def __init__(self, connection: KafkaConnection | str) -> None:
        self.connection = KafkaConnection.of(connection)
        self._client = None

    async def check(self) -> None:
        from aiokafka.client import AIOKafkaClient

        if self._client is None:
            client = AIOKafkaClient(**self.connection.client_options(), request_timeout_ms=2000)
            try:
                await asyncio.wait_for(client.bootstrap(), PROBE_TIMEOUT_SECONDS)
            except BaseException:
                await client.close()
                raise
            self._client = client
        try:
            await asyncio.wait_for(self._client.fetch_all_metadata(), PROBE_TIMEOUT_SECONDS)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()


async def check_database(pool: asyncpg.Pool) -> None:
    async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
        await pool.fetchval("SELECT 1")


class HealthController(Controller):
    path = "/health"
    include_in_schema = False

    @get("/live", media_type=MediaType.JSON)
    async def live(self) -> dict[str, str]:
        return {"status": "alive"}

    @get("/ready", media_type=MediaType.JSON)
    async def ready(self, state: State) -> Response[dict[str, Any]]:
        runtime = state.runtime
        checks: dict[str, str] = {}
        for name, probe in (("postgresql", lambda: check_database(runtime.pool)),
                            ("kafka", runtime.kafka_probe.check)):
            try:
                await probe()
                checks[name] = "ok"
            except Exception as error:  # any failure means not ready; say which dependency and why
                checks[name] = f"unavailable: {type(error).__name__}"
        if all(value == "ok" for value in checks.values()):
            return Response({"status": "ready", "checks": checks})
        return Response(
            {"type": "https://loginless.dev/problems/not-ready", "title": "Not ready", "status": 503,
             "checks": checks},
            status_code=503,
            media_type="application/problem+json",
        )
