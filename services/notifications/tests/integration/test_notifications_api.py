"""The staff API of notification settings and the one-click unsubscribe pages, over HTTP on real PostgreSQL.

Bad inputs tried: NUL bytes in an address and a time zone, addresses that are not addresses, an hour of 24, an
unknown time zone, a zero interval, too many reminders, durations of thousands of years, a wrong type, no API key,
another tenant's settings; unsubscribe tokens made up or altered, and a GET that must not unsubscribe (mail
scanners follow links)."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from loginless.notifications.bootstrap import create_app
from loginless.testkit.fake_links import FakeLinks

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(settings, pool, clock):
    links = FakeLinks(clock=clock)
    tenant_id = links.add_tenant(name="Ortega & Lane")
    other = links.add_tenant(name="Other Firm")
    async with AsyncTestClient(create_app(settings, links=links, clock=clock)) as client:
        client.headers["Authorization"] = f"Bearer {links.add_api_key(tenant_id)}"
        client.other_firm = {"Authorization": f"Bearer {links.add_api_key(other)}"}  # type: ignore[attr-defined]
        client.tenant_id = tenant_id  # type: ignore[attr-defined]
        yield client


async def test_a_tenant_starts_with_no_alert_addresses_and_the_default_reminder_schedule(api):
    answer = await api.get("/v1/notification-settings")

    assert answer.status_code == 200
    assert answer.json() == {
        "owner_addresses": [], "owner_alerts": "immediate", "digest_hour": 8, "timezone": "Europe/Madrid",
        "language": "en", "suppressed": [],
        "reminders": {"enabled": True, "first_after": "P2D", "interval": "P3D", "expiry_warning_before": "P1D",
                      "max_reminders": 5}}


async def test_settings_saved_are_the_settings_read_and_only_by_their_own_tenant(api):
    saved = await api.put("/v1/notification-settings", json={
        "owner_addresses": ["owner@firm.test", " Desk@Firm.test", "desk@firm.test"], "owner_alerts": "daily",
        "digest_hour": 7, "timezone": "America/Mexico_City", "language": "es",
        "reminders": {"first_after": "PT12H", "interval": 86400, "expiry_warning_before": "PT0S",
                      "max_reminders": 2}})

    assert saved.status_code == 200
    read = (await api.get("/v1/notification-settings")).json()
    assert read == saved.json()
    assert read["owner_addresses"] == ["owner@firm.test", "Desk@Firm.test"]
    assert read["reminders"] == {"enabled": True, "first_after": "PT12H", "interval": "P1D",
                                 "expiry_warning_before": "PT0S", "max_reminders": 2}
    theirs = (await api.get("/v1/notification-settings", headers=api.other_firm)).json()
    assert theirs["owner_addresses"] == []


async def test_settings_that_break_rules_are_refused_naming_each_and_nothing_is_saved(api):
    refused = await api.put("/v1/notification-settings", json={
        "owner_addresses": ["owner@firm.test", "not an address", "a@b"], "digest_hour": 24,
        "timezone": "Mars/Olympus", "reminders": {"interval": "PT0S", "max_reminders": 51}})

    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert sorted(e["field"] for e in refused.json()["errors"]) == [
        "digest_hour", "max_reminders", "owner_addresses[1]", "owner_addresses[2]", "reminder_interval", "timezone"]
    too_long = await api.put("/v1/notification-settings", json={
        "reminders": {"first_after": "P5000000D", "expiry_warning_before": "P400D"}})
    assert too_long.status_code == 422 and sorted(e["field"] for e in too_long.json()["errors"]) == [
        "expiry_warning_before", "first_reminder_after"]
    nul = await api.put("/v1/notification-settings", json={"owner_addresses": ["o\u0000@firm.test"],
                                                             "timezone": "Europe/\u0000"})
    assert nul.status_code == 422 and sorted(e["field"] for e in nul.json()["errors"]) == [
        "owner_addresses[0]", "timezone"]
    wrong_type = await api.put("/v1/notification-settings", json={"owner_alerts": "hourly", "digest_hour": "x"})
    assert wrong_type.status_code == 400 and wrong_type.headers["content-type"] == "application/problem+json"
    assert (await api.get("/v1/notification-settings")).json()["owner_addresses"] == []


async def test_settings_need_a_valid_api_key(api):
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer not-a-key"}):
        answer = await api.get("/v1/notification-settings", headers=headers)
        assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"


async def test_an_unsubscribe_link_shows_the_choice_on_get_and_unsubscribes_on_the_one_click_post(api):
    await api.put("/v1/notification-settings", json={"owner_addresses": ["owner@firm.test", "desk@firm.test"]})
    unsubscribe_links = api.app.state.runtime.context.notifications.unsubscribe_links  # as an alert's header has it
    path = unsubscribe_links.url_for(api.tenant_id, "Desk@Firm.test").removeprefix("https://guests.example.test")

    shown = await api.get(path)
    assert shown.status_code == 200 and "desk@firm.test" in shown.text and 'method="post"' in shown.text
    assert (await api.get("/v1/notification-settings")).json()["suppressed"] == []  # a GET changes nothing

    done = await api.post(path, data={"List-Unsubscribe": "One-Click"})
    again = await api.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == again.status_code == 200 and "will no longer receive" in done.text
    assert (await api.get("/v1/notification-settings")).json()["suppressed"] == [
        {"address": "desk@firm.test", "reason": "unsubscribed"}]

    token = path.rsplit("/", 1)[1]
    for forged in (token[:-3] + "abc", "made-up", token.split(".")[0]):
        for answer in (await api.get(f"/unsubscribe/{forged}"), await api.post(f"/unsubscribe/{forged}")):
            assert answer.status_code == 404 and "not valid" in answer.text
