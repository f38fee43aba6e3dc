"""SQL of the requests service: its read models' queries and its plain tables. Only SQL; nothing here calls up.

Plain tables (never touched by a projections rebuild): ``drafts`` (answers being worked on, one row per question
with its own version), ``submissions`` (the answers each recipient submitted last), ``staged_files`` (uploads,
until submitted and filed with documents). The worker's calls to links and documents are the kernel's jobs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from loginless.shared.eventstore import quote_ident

Executor = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class DraftAnswer:
    value: Any
    version: int
    saved_at: datetime


@dataclass(frozen=True)
class AnswerChange:
    question_id: str
    value: Any
    base_version: int | None  # the version the guest edited; None: whatever is there now is overwritten


@dataclass(frozen=True)
class DraftSaved:
    """What a guest's save came to: ``draft`` (saved; ``answers`` is the whole draft now), ``conflict``
    (``answers``: those changed since the version the guest edited), or why nothing was saved: ``submitted``,
    ``cancelled``, ``answered`` (a browser not yet proven for the link, once the recipient has answers)."""

    outcome: str
    answers: dict[str, DraftAnswer]


@dataclass(frozen=True)
class StagedFile:
    file_id: str
    tenant_id: str
    client_request_id: str
    recipient_id: str
    question_id: str
    object_key: str
    file_name: str
    content_type: str
    size: int
    sha256: str
    scan: str
    document_id: str | None = None  # once filed with documents


class Repository:
    def __init__(self, schema: str) -> None:
        self.s = quote_ident(schema)

    # ---- templates and requests (read models) ------------------------------------------------------------

    async def template_versions(self, db: Executor, tenant_id: str, *, limit: int,
                                after: str | None) -> list[asyncpg.Record]:
        return await db.fetch(
            f"SELECT DISTINCT ON (template_id) template_id, template_version, title, saved_at"
            f" FROM {self.s}.template_versions WHERE tenant_id = $1 AND template_id > coalesce($2, '')"
            " ORDER BY template_id, template_version DESC LIMIT $3", tenant_id, after, limit)

    async def client_request(self, db: Executor, tenant_id: str, request_id: str) -> asyncpg.Record | None:
        return await db.fetchrow(f"SELECT * FROM {self.s}.client_requests WHERE tenant_id = $1"
                                 " AND client_request_id = $2", tenant_id, request_id)

    async def client_requests(self, db: Executor, tenant_id: str, *, template_id: str | None, limit: int,
                              after: str | None) -> list[asyncpg.Record]:
        return await db.fetch(
            f"SELECT * FROM {self.s}.client_requests WHERE tenant_id = $1 AND ($2::text IS NULL OR template_id = $2)"
            " AND client_request_id > coalesce($3, '') ORDER BY client_request_id LIMIT $4",
            tenant_id, template_id, after, limit)

    async def recipients(self, db: Executor, request_id: str) -> list[asyncpg.Record]:
        return await db.fetch(f"SELECT * FROM {self.s}.request_recipients WHERE client_request_id = $1"
                              " ORDER BY position", request_id)

    async def last_submission(self, db: Executor, tenant_id: str, *, template_id: str, account_id: str | None,
                              email: str | None, before: str) -> Mapping[str, Any] | None:
        """The latest answers given to ``template_id`` by the same recipient of the same account (last year's)."""
        row = await db.fetchrow(
            f"SELECT s.answers FROM {self.s}.submissions s"
            f" JOIN {self.s}.client_requests r USING (client_request_id)"
            f" JOIN {self.s}.request_recipients p ON p.client_request_id = s.client_request_id"
            "   AND p.recipient_id = s.recipient_id"
            " WHERE r.tenant_id = $1 AND r.template_id = $2 AND r.account_id IS NOT DISTINCT FROM $3"
            "   AND lower(p.email) IS NOT DISTINCT FROM lower($4) AND s.client_request_id <> $5"
            " ORDER BY s.submitted_at DESC LIMIT 1", tenant_id, template_id, account_id, email, before)
        return json.loads(row["answers"]) if row else None

    async def contacts(self, db: Executor, tenant_id: str, account_id: str, *, limit: int,
                       after: tuple[datetime, str] | None = None) -> list[asyncpg.Record]:
        """Oldest first; ``after`` is the (added_at, contact_id) of the previous page's last contact."""
        return await db.fetch(f"SELECT * FROM {self.s}.contacts WHERE tenant_id = $1 AND account_id = $2"
                              " AND ($4::timestamptz IS NULL OR (added_at, contact_id) > ($4, $5))"
                              " ORDER BY added_at, contact_id LIMIT $3",
                              tenant_id, account_id, limit, *(after or (None, None)))

    # ---- drafts ------------------------------------------------------------------------------------------

    async def draft(self, db: Executor, request_id: str, recipient_id: str) -> dict[str, DraftAnswer]:
        rows = await db.fetch(f"SELECT question_id, value, version, saved_at FROM {self.s}.drafts"
                              " WHERE client_request_id = $1 AND recipient_id = $2", request_id, recipient_id)
        return {row["question_id"]: DraftAnswer(json.loads(row["value"]), row["version"], row["saved_at"])
                for row in rows}

    async def save_draft(self, connection: asyncpg.Connection, *, tenant_id: str, request_id: str,
                         recipient_id: str, changes: Iterable[AnswerChange], now: datetime,
                         current: Mapping[str, DraftAnswer] | None = None,
                         ) -> tuple[dict[str, int], dict[str, DraftAnswer]]:
        """Save every change, or none: ``(new versions, {})``, or ``({}, conflicts)`` -- the current answers of
        the questions saved by someone else since the version a change was based on. ``current``: the draft as
        the caller read it under the recipient's lock (else it is read here, its rows locked)."""
        changes = list(changes)
        if current is None:
            rows = await connection.fetch(
                f"SELECT question_id, value, version, saved_at FROM {self.s}.drafts WHERE client_request_id = $1"
                " AND recipient_id = $2 AND question_id = ANY($3::text[]) FOR UPDATE", request_id, recipient_id,
                [c.question_id for c in changes])
            current = {row["question_id"]: DraftAnswer(json.loads(row["value"]), row["version"], row["saved_at"])
                       for row in rows}
        conflicts = {c.question_id: current.get(c.question_id, DraftAnswer(None, 0, now)) for c in changes
                     if c.base_version is not None
                     and c.base_version != (current[c.question_id].version if c.question_id in current else 0)
                     and (current[c.question_id].value if c.question_id in current else None) != c.value}
        if conflicts:
            return {}, conflicts
        versions = {}
        for change in changes:
            versions[change.question_id] = await connection.fetchval(
                f"INSERT INTO {self.s}.drafts AS d (client_request_id, recipient_id, question_id, tenant_id, value,"
                " version, saved_at) VALUES ($1, $2, $3, $4, $5, 1, $6)"
                " ON CONFLICT (client_request_id, recipient_id, question_id) DO UPDATE"
                " SET value = EXCLUDED.value, saved_at = EXCLUDED.saved_at,"
                "     version = d.version + (CASE WHEN d.value = EXCLUDED.value THEN 0 ELSE 1 END)"
                " RETURNING version", request_id, recipient_id, change.question_id, tenant_id,
                json.dumps(change.value), now)
        return versions, {}

    async def save_answers(self, db: Executor, *, tenant_id: str, request_id: str, recipient_id: str,
                           lock_key: int, changes: Iterable[AnswerChange], now: datetime,
                           unanswered_since: datetime | None = None) -> DraftSaved:
        """A guest's save in one statement (migrations/0002_save_answers.sql says what it does, under the
        recipient's lock): every change, or none."""
        rows = await db.fetch(
            f"SELECT * FROM {self.s}.save_answers($1, $2, $3, $4, $5::jsonb, $6, $7)", request_id, recipient_id,
            lock_key, tenant_id, json.dumps([{"question_id": c.question_id, "value": c.value,
                                              "base_version": c.base_version} for c in changes]),
            now, unanswered_since)
        answers = {row["question_id"]: DraftAnswer(json.loads(row["value"]) if row["value"] is not None else None,
                                                   row["version"], row["saved_at"])
                   for row in rows if row["question_id"] is not None}
        outcome = rows[0]["outcome"] if rows else "draft"
        return DraftSaved(outcome, answers)

    async def forget_draft(self, connection: asyncpg.Connection, request_id: str, recipient_id: str) -> None:
        await connection.execute(f"DELETE FROM {self.s}.drafts WHERE client_request_id = $1 AND recipient_id = $2",
                                 request_id, recipient_id)

    async def save_submission(self, connection: asyncpg.Connection, *, tenant_id: str, request_id: str,
                              recipient_id: str, answers: Mapping[str, Any], now: datetime) -> None:
        await connection.execute(
            f"INSERT INTO {self.s}.submissions (client_request_id, recipient_id, tenant_id, answers, submitted_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_request_id, recipient_id)"
            " DO UPDATE SET answers = EXCLUDED.answers, submitted_at = EXCLUDED.submitted_at",
            request_id, recipient_id, tenant_id, json.dumps(answers), now)

    async def submission(self, db: Executor, request_id: str, recipient_id: str) -> dict[str, Any] | None:
        answers = await db.fetchval(f"SELECT answers FROM {self.s}.submissions WHERE client_request_id = $1"
                                    " AND recipient_id = $2", request_id, recipient_id)
        return json.loads(answers) if answers is not None else None

    async def submissions_of_template(self, db: Executor, tenant_id: str, template_id: str) -> list[asyncpg.Record]:
        return await db.fetch(
            f"SELECT s.client_request_id, s.recipient_id, s.answers, s.submitted_at, r.template_version,"
            f" p.name, p.email FROM {self.s}.submissions s JOIN {self.s}.client_requests r USING (client_request_id)"
            f" JOIN {self.s}.request_recipients p ON p.client_request_id = s.client_request_id"
            "   AND p.recipient_id = s.recipient_id"
            " WHERE r.tenant_id = $1 AND r.template_id = $2 ORDER BY s.submitted_at, s.client_request_id",
            tenant_id, template_id)

    # ---- staged files --------------------------------------------------------------------------------------

    async def stage_file(self, db: Executor, file: StagedFile, now: datetime) -> None:
        await db.execute(
            f"INSERT INTO {self.s}.staged_files (file_id, tenant_id, client_request_id, recipient_id, question_id,"
            " object_key, file_name, content_type, size, sha256, scan, staged_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", file.file_id, file.tenant_id,
            file.client_request_id, file.recipient_id, file.question_id, file.object_key, file.file_name,
            file.content_type, file.size, file.sha256, file.scan, now)

    async def staged_files(self, db: Executor, request_id: str, recipient_id: str) -> dict[str, StagedFile]:
        rows = await db.fetch(f"SELECT * FROM {self.s}.staged_files WHERE client_request_id = $1"
                              " AND recipient_id = $2", request_id, recipient_id)
        return {row["file_id"]: _staged(row) for row in rows}

    async def staged_file(self, db: Executor, file_id: str) -> StagedFile | None:
        row = await db.fetchrow(f"SELECT * FROM {self.s}.staged_files WHERE file_id = $1", file_id)
        return _staged(row) if row else None

    async def file_names(self, db: Executor, tenant_id: str, file_ids: list[str]) -> dict[str, str]:
        rows = await db.fetch(f"SELECT file_id, file_name FROM {self.s}.staged_files WHERE tenant_id = $1"
                              " AND file_id = ANY($2::text[])", tenant_id, file_ids)
        return {row["file_id"]: row["file_name"] for row in rows}

    async def mark_submitted(self, connection: asyncpg.Connection, file_ids: list[str]) -> None:
        await connection.execute(f"UPDATE {self.s}.staged_files SET submitted = true WHERE file_id = ANY($1)",
                                 file_ids)

    async def abandoned_files(self, db: Executor, older_than: datetime, limit: int) -> list[StagedFile]:
        rows = await db.fetch(f"SELECT * FROM {self.s}.staged_files WHERE NOT submitted AND staged_at < $1"
                              " LIMIT $2", older_than, limit)
        return [_staged(row) for row in rows]

    async def forget_files(self, db: Executor, file_ids: list[str]) -> None:
        await db.execute(f"DELETE FROM {self.s}.staged_files WHERE file_id = ANY($1)", file_ids)

    async def forget_old_drafts(self, db: Executor, older_than: datetime) -> int:
        status = await db.execute(f"DELETE FROM {self.s}.drafts WHERE saved_at < $1", older_than)
        return int(status.split()[-1])

    async def filed(self, db: Executor, file_id: str, document_id: str) -> None:
        await db.execute(f"UPDATE {self.s}.staged_files SET document_id = $2 WHERE file_id = $1", file_id, document_id)


def _staged(row: asyncpg.Record) -> StagedFile:
    return StagedFile(**{name: row[name] for name in StagedFile.__dataclass_fields__})
