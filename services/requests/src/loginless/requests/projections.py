"""The requests service's read models, kept from its own events in the transaction that appends them.

* ``template_versions``: every version of every template, as saved.
* ``client_requests`` and ``request_recipients``: each request and where each of its recipients stands.
* ``contacts``: each client account's contact list.

Every row comes from an event, so ``python -m loginless.requests projections rebuild`` reproduces them.
"""

from __future__ import annotations

import json

import asyncpg

from loginless.events.payloads import requests_ as events
from loginless.shared.eventstore import RecordedEvent, quote_ident


class RequestRows:
    tables = ("template_versions", "client_requests", "request_recipients", "contacts")

    def __init__(self, schema: str) -> None:
        self._schema = quote_ident(schema)

    async def apply(self, connection: asyncpg.Connection, event: RecordedEvent) -> None:
        s = self._schema
        match event.payload:
            case events.TemplateVersionSaved() as saved:
                await connection.execute(
                    f"INSERT INTO {s}.template_versions (template_id, tenant_id, template_version, title, definition,"
                    " saved_at) VALUES ($1, $2, $3, $4, $5, $6)", saved.template_id, saved.tenant_id,
                    saved.template_version, saved.title, json.dumps(saved.definition), saved.saved_at)
            case events.ClientRequestSent() as sent:
                await connection.execute(
                    f"INSERT INTO {s}.client_requests (client_request_id, tenant_id, account_id, title, template_id,"
                    " template_version, require_login, message, due_at, sent_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", sent.client_request_id, sent.tenant_id,
                    sent.account_id, sent.title or "", sent.template_id or "", sent.template_version or 1,
                    sent.require_login, sent.message, sent.due_at, sent.sent_at)
                await connection.executemany(
                    f"INSERT INTO {s}.request_recipients (client_request_id, recipient_id, tenant_id, position, name,"
                    " email, phone, language, contact_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    [(sent.client_request_id, r.recipient_id, sent.tenant_id, position, r.name, r.email, r.phone,
                      r.language, r.contact_id) for position, r in enumerate(sent.recipients or [])])
            case events.RequestLinkIssued() as issued:
                await self._recipient(connection, issued.client_request_id, issued.recipient_id, "link_id = $3",
                                      issued.link_id)
            case events.RequestOpened() as opened:
                await self._recipient(connection, opened.client_request_id, opened.recipient_id, "opened_at = $3",
                                      opened.opened_at)
            case events.ClientRequestCompleted(recipient_id=str(recipient_id)) as completed:
                await self._recipient(connection, completed.client_request_id, recipient_id, "submitted_at = $3",
                                      completed.completed_at)
            case events.RequestSentBack() as sent_back:
                await self._recipient(connection, sent_back.client_request_id, sent_back.recipient_id,
                                      "sent_back_at = $3, comments = $4", sent_back.sent_back_at,
                                      json.dumps(sent_back.comments))
            case events.ContactAdded() as added:
                await connection.execute(
                    f"INSERT INTO {s}.contacts (contact_id, tenant_id, account_id, name, email, phone, language, role,"
                    " added_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", added.contact_id, added.tenant_id,
                    added.account_id, added.contact_name, added.email, added.phone, added.language, added.role,
                    added.added_at)
            case events.RequestCancelled() as cancelled:
                await connection.execute(
                    f"UPDATE {s}.client_requests SET cancelled_at = $2, cancel_reason = $3"
                    " WHERE client_request_id = $1", cancelled.client_request_id, cancelled.cancelled_at,
                    cancelled.reason)

    async def _recipient(self, connection: asyncpg.Connection, request_id: str, recipient_id: str, assignments: str,
                         *values: object) -> None:
        await connection.execute(f"UPDATE {self._schema}.request_recipients SET {assignments}"
                                 " WHERE client_request_id = $1 AND recipient_id = $2", request_id, recipient_id,
                                 *values)

    async def forget(self, connection: asyncpg.Connection, stream_id: str) -> None:
        s = self._schema
        if stream_id.startswith("tpl_"):
            await connection.execute(f"DELETE FROM {s}.template_versions WHERE template_id = $1", stream_id)
        elif stream_id.startswith("con_"):
            await connection.execute(f"DELETE FROM {s}.contacts WHERE contact_id = $1", stream_id)
        else:
            await connection.execute(f"DELETE FROM {s}.request_recipients WHERE client_request_id = $1", stream_id)
            await connection.execute(f"DELETE FROM {s}.client_requests WHERE client_request_id = $1", stream_id)
