"""Notifications' read models, kept from its own events in the transaction that appends them.

* ``preferences``: each tenant's settings as last saved.
* ``suppressed_addresses``: whom alerts skip -- an unsubscribe (for good) or a hard bounce (until staff save the
  settings again, which is how they say the address works now).
* ``pending_actions``: the links awaited, with ``next_reminder_at`` worked out by the domain's
  :func:`~loginless.notifications.domain.next_reminder` on the tenant's schedule; a tenant's new schedule moves
  every one of its awaited links.

Every row comes from an event, so ``python -m loginless.notifications projections rebuild`` reproduces them.
"""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg

from loginless.events.payloads import notifications as events
from loginless.notifications.domain import (
    PENDING_ACTION,
    PREFERENCES,
    PendingAction,
    ReminderSchedule,
    default_preferences,
    next_reminder,
    schedule_of_event,
)
from loginless.shared.eventstore import RecordedEvent, quote_ident


class NotificationRows:
    tables = ("preferences", "suppressed_addresses", "pending_actions", "webhook_endpoints", "resource_reminders")

    def __init__(self, schema: str) -> None:
        self._schema = quote_ident(schema)

    async def apply(self, connection: asyncpg.Connection, event: RecordedEvent) -> None:
        payload = event.payload
        match payload:
            case events.NotificationSettingsChanged() as changed:
                await self._save_preferences(connection, changed)
            case events.OwnerAlertsUnsubscribed(tenant_id=tenant_id, address=address, unsubscribed_at=at):
                await connection.execute(
                    f"INSERT INTO {self._schema}.suppressed_addresses (tenant_id, address, reason, since)"
                    " VALUES ($1, $2, 'unsubscribed', $3) ON CONFLICT (tenant_id, address)"
                    " DO UPDATE SET reason = 'unsubscribed', since = EXCLUDED.since", tenant_id, address, at)
            case events.NotificationFailed(bounced=True, tenant_id=tenant_id, recipient=address, failed_at=at):
                await connection.execute(
                    f"INSERT INTO {self._schema}.suppressed_addresses (tenant_id, address, reason, since)"
                    " VALUES ($1, $2, 'bounced', $3) ON CONFLICT (tenant_id, address) DO NOTHING",
                    payload.tenant_id, address.lower(), at)
            case events.PendingActionTracked() | events.ReminderSent() | events.RemindersStopped():
                await self._save_pending(connection, event)
            case events.ResourceRemindersSet() as chosen:
                await self._save_resource_schedule(connection, chosen)
            case events.WebhookEndpointCreated() as created:
                await connection.execute(
                    f"INSERT INTO {self._schema}.webhook_endpoints (endpoint_id, tenant_id, url, event_types,"
                    " description, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    created.endpoint_id, created.tenant_id, created.url, created.event_types, created.description,
                    created.created_at)
            case events.WebhookEndpointDeleted(endpoint_id=endpoint_id, deleted_at=at):
                await connection.execute(
                    f"UPDATE {self._schema}.webhook_endpoints SET deleted_at = $2 WHERE endpoint_id = $1",
                    endpoint_id, at)

    async def forget(self, connection: asyncpg.Connection, stream_id: str) -> None:
        kind, _, key = stream_id.partition(":")
        if kind == "pending":
            await connection.execute(f"DELETE FROM {self._schema}.pending_actions WHERE link_id = $1", key)
        elif kind == "endpoint":
            await connection.execute(f"DELETE FROM {self._schema}.webhook_endpoints WHERE endpoint_id = $1", key)

    # ---- preferences --------------------------------------------------------------------------------------

    async def _save_preferences(self, connection: asyncpg.Connection,
                                changed: events.NotificationSettingsChanged) -> None:
        reminders = {"enabled": changed.reminders_enabled, "first_after": changed.first_reminder_after_seconds,
                     "interval": changed.reminder_interval_seconds,
                     "expiry_warning_before": changed.expiry_warning_before_seconds,
                     "max_reminders": changed.max_reminders}
        await connection.execute(
            f"INSERT INTO {self._schema}.preferences (tenant_id, owner_addresses, owner_alerts, digest_hour,"
            " timezone, language, reminders, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (tenant_id) DO UPDATE SET owner_addresses = EXCLUDED.owner_addresses,"
            " owner_alerts = EXCLUDED.owner_alerts, digest_hour = EXCLUDED.digest_hour,"
            " timezone = EXCLUDED.timezone, language = EXCLUDED.language, reminders = EXCLUDED.reminders,"
            " changed_at = EXCLUDED.changed_at",
            changed.tenant_id, changed.owner_addresses, changed.owner_alerts, changed.digest_hour, changed.timezone,
            changed.language, json.dumps(reminders), changed.changed_at)
        await connection.execute(
            f"DELETE FROM {self._schema}.suppressed_addresses WHERE tenant_id = $1 AND reason = 'bounced'"
            " AND address = ANY($2::text[])", changed.tenant_id, [a.lower() for a in changed.owner_addresses])
        schedule = PREFERENCES.replay([changed]).reminders  # type: ignore[union-attr]
        rows = await connection.fetch(
            f"SELECT * FROM {self._schema}.pending_actions WHERE tenant_id = $1 AND stopped IS NULL FOR UPDATE",
            changed.tenant_id)
        for row in rows:  # a link whose resource has a schedule of its own keeps it
            pending = _pending_of(row)
            await self._set_next(connection, pending, await self._resource_schedule(connection, pending.resource_id)
                                 or schedule)

    async def _save_resource_schedule(self, connection: asyncpg.Connection,
                                      chosen: events.ResourceRemindersSet) -> None:
        schedule = schedule_of_event(chosen)
        await connection.execute(
            f"INSERT INTO {self._schema}.resource_reminders (resource_id, tenant_id, reminders) VALUES ($1, $2, $3)"
            " ON CONFLICT (resource_id) DO UPDATE SET reminders = EXCLUDED.reminders",
            chosen.resource_id, chosen.tenant_id, json.dumps(_stored(schedule)))
        rows = await connection.fetch(
            f"SELECT * FROM {self._schema}.pending_actions WHERE tenant_id = $1 AND resource_id = $2"
            " AND stopped IS NULL FOR UPDATE", chosen.tenant_id, chosen.resource_id)
        for row in rows:
            await self._set_next(connection, _pending_of(row), schedule)

    async def _resource_schedule(self, connection: asyncpg.Connection, resource_id: str) -> ReminderSchedule | None:
        stored = await connection.fetchval(
            f"SELECT reminders FROM {self._schema}.resource_reminders WHERE resource_id = $1", resource_id)
        return schedule_of(stored) if stored is not None else None

    # ---- pending actions ----------------------------------------------------------------------------------

    async def _save_pending(self, connection: asyncpg.Connection, event: RecordedEvent) -> None:
        link_id = event.stream_id.partition(":")[2]
        row = await connection.fetchrow(
            f"SELECT * FROM {self._schema}.pending_actions WHERE link_id = $1 FOR UPDATE", link_id)
        pending = PENDING_ACTION.evolve(_pending_of(row) if row else None, event.payload)
        await connection.execute(
            f"INSERT INTO {self._schema}.pending_actions (link_id, tenant_id, action, resource_id, issued_at,"
            " expires_at, reminders_sent, last_reminder_at, expiry_warning_sent, stopped)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (link_id) DO UPDATE SET"
            " action = EXCLUDED.action, resource_id = EXCLUDED.resource_id, issued_at = EXCLUDED.issued_at,"
            " expires_at = EXCLUDED.expires_at, reminders_sent = EXCLUDED.reminders_sent,"
            " last_reminder_at = EXCLUDED.last_reminder_at, expiry_warning_sent = EXCLUDED.expiry_warning_sent,"
            " stopped = EXCLUDED.stopped",
            pending.link_id, pending.tenant_id, pending.action, pending.resource_id, pending.issued_at,
            pending.expires_at, pending.reminders_sent, pending.last_reminder_at, pending.expiry_warning_sent,
            pending.stopped)
        await self._set_next(connection, pending, await self._resource_schedule(connection, pending.resource_id)
                             or await self._schedule_of(connection, pending.tenant_id))

    async def _schedule_of(self, connection: asyncpg.Connection, tenant_id: str) -> ReminderSchedule:
        row = await connection.fetchrow(
            f"SELECT reminders FROM {self._schema}.preferences WHERE tenant_id = $1", tenant_id)
        return schedule_of(row["reminders"]) if row else default_preferences(tenant_id).reminders

    async def _set_next(self, connection: asyncpg.Connection, pending: PendingAction,
                        schedule: ReminderSchedule) -> None:
        due = next_reminder(pending, schedule)
        await connection.execute(
            f"UPDATE {self._schema}.pending_actions SET next_reminder_at = $2 WHERE link_id = $1",
            pending.link_id, due.at if due else None)


def _stored(schedule: ReminderSchedule) -> dict:
    return {"enabled": schedule.enabled, "first_after": int(schedule.first_after.total_seconds()),
            "interval": int(schedule.interval.total_seconds()),
            "expiry_warning_before": int(schedule.expiry_warning_before.total_seconds()),
            "max_reminders": schedule.max_reminders}


def schedule_of(stored: str | dict) -> ReminderSchedule:
    """A schedule as the ``preferences`` row keeps it (JSON, durations in seconds)."""
    values = json.loads(stored) if isinstance(stored, str) else stored
    return ReminderSchedule(enabled=values["enabled"], first_after=timedelta(seconds=values["first_after"]),
                            interval=timedelta(seconds=values["interval"]),
                            expiry_warning_before=timedelta(seconds=values["expiry_warning_before"]),
                            max_reminders=values["max_reminders"])


def _pending_of(row: asyncpg.Record) -> PendingAction:
    return PendingAction(link_id=row["link_id"], tenant_id=row["tenant_id"], action=row["action"],
                         resource_id=row["resource_id"], issued_at=row["issued_at"], expires_at=row["expires_at"],
                         reminders_sent=row["reminders_sent"], last_reminder_at=row["last_reminder_at"],
                         expiry_warning_sent=row["expiry_warning_sent"], stopped=row["stopped"])

