"""The links read model is a projection of the events (a rebuild reproduces it row for row), the worker records
LinkExpired, and a link that ended long ago is forgotten whole."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loginless.links.handlers import forget_ended_links, record_expiries
from loginless.links.projections import LinkRows
from loginless.testkit.read_models import rebuild_with_the_command, snapshot

pytestmark = pytest.mark.integration

INTERNAL = {"Authorization": "Bearer test-internal-secret"}
GUEST = {"client_ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (retention test)"}


async def fill(client, staff, issue, clock) -> dict[str, dict]:
    """Links in every state the read model knows: opened, used up, revoked, locked, expired, delivered."""
    links = {}
    [opened] = await issue(client, staff)
    await client.post(f"/internal/v1/links/{opened['link_id']}/opened", json=GUEST, headers=INTERNAL)
    [used_up] = await issue(client, staff, action="pay", max_uses=1)
    await client.post(f"/internal/v1/links/{used_up['link_id']}/use", json=GUEST, headers=INTERNAL)
    [revoked] = await issue(client, staff, action="upload")
    await client.post(f"/v1/links/{revoked['link_id']}/revoke", headers=staff.headers)
    [locked] = await issue(client, staff, verification="email")
    for _ in range(5):
        await client.post(f"/internal/v1/links/{locked['link_id']}/verification-code/check", json={"code": "000000"},
                          headers=INTERNAL)
    [expiring] = await issue(client, staff, action="sign", expires_in_seconds=60)
    for name, link in (("opened", opened), ("used_up", used_up), ("revoked", revoked), ("locked", locked),
                       ("expiring", expiring)):
        links[name] = link
    return links


async def test_a_rebuild_of_the_read_model_finds_every_row_equal(client, staff, issue, clock, ctx, pool, settings):
    await fill(client, staff, issue, clock)
    clock.advance(minutes=2)
    assert await record_expiries(ctx) == 1
    live = await snapshot(pool, settings.schema, LinkRows.tables)
    assert len(live["links"]) == 5 and {row["uses"] for row in live["links"]} == {0, 1}
    await pool.execute(f'UPDATE "{settings.schema}".links SET opens = 42, delivery_status = \'failed\'')

    output = await rebuild_with_the_command("links", {
        "DATABASE_URL": settings.database_url, "DATABASE_SCHEMA": settings.schema,
        "TOKEN_PEPPERS": settings.token_peppers.get_secret_value(), "DATA_KEY": settings.data_key.get_secret_value()})

    assert "read models rebuilt from 10 event(s)" in output  # 5 issued, opened, used, revoked, locked, expired
    assert await snapshot(pool, settings.schema, LinkRows.tables) == live


async def test_the_worker_records_link_expired_once_for_links_past_their_expiry(client, staff, issue, clock, ctx,
                                                                              stream_types):
    [expiring] = await issue(client, staff, expires_in_seconds=60)
    [revoked] = await issue(client, staff, expires_in_seconds=60)
    await client.post(f"/v1/links/{revoked['link_id']}/revoke", headers=staff.headers)
    assert await record_expiries(ctx) == 0
    clock.advance(seconds=61)
    assert await record_expiries(ctx) == 1
    assert await record_expiries(ctx) == 0
    assert await stream_types(expiring["link_id"]) == ["LinkIssued", "LinkExpired"]
    assert await stream_types(revoked["link_id"]) == ["LinkIssued", "LinkRevoked"]  # it ended otherwise


async def test_a_link_that_ended_past_the_retention_is_forgotten_whole(client, staff, issue, clock, ctx, pool,
                                                                     settings):
    links = await fill(client, staff, issue, clock)
    [active] = await issue(client, staff, recipients=[{"email": "still-here@example.test"}])
    schema = f'"{settings.schema}"'
    retention = timedelta(days=30)
    assert await forget_ended_links(ctx, retention=retention) == 0  # nothing ended that long ago

    clock.advance(days=31)
    forgotten = await forget_ended_links(ctx, retention=retention)

    # The revoked and the used-up link ended 31 days ago; so did the one that expired after a minute. The opened
    # and the locked ones expire after 30 days (the view default) and so ended a day ago: they stay, as does
    # the active one.
    gone = {links[name]["link_id"] for name in ("revoked", "used_up", "expiring")}
    assert forgotten == len(gone)
    for link_id in gone:
        for table, column in (("events", "stream_id"), ("links", "link_id"), ("link_tokens", "link_id"),
                              ("link_accesses", "link_id"), ("link_verifications", "link_id")):
            assert await pool.fetchval(f"SELECT count(*) FROM {schema}.{table} WHERE {column} = $1", link_id) == 0
        assert not await pool.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE message_key = $1",
                                       link_id.encode())
        assert (await client.get(f"/v1/links/{link_id}", headers=staff.headers)).status_code == 404
    kept = {links["opened"]["link_id"], links["locked"]["link_id"], active["link_id"]}
    assert {row["link_id"] for row in await pool.fetch(f"SELECT link_id FROM {schema}.links")} == kept
    outbox = b"".join(row["message_value"] for row in await pool.fetch(f"SELECT message_value FROM {schema}.outbox"))
    assert b"still-here@example.test" in outbox
    for link, status in ((links["revoked"], 404), (active, 410)):  # forgotten: unknown; kept: known, expired
        token = link["url"].rsplit("/", 1)[1]
        resolved = await client.post("/internal/v1/links/resolve", json={"token": token}, headers=INTERNAL)
        assert resolved.status_code == status
