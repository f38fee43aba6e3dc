"""The SQL of the links service's own tables (see ``migrations/``); each method runs on the caller's connection,
so a handler puts it in the same transaction as the events it appends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from loginless.links.domain import Link, Recipient, VerificationState
from loginless.links.tokens import TokenHash
from loginless.shared.eventstore import quote_ident


@dataclass(frozen=True)
class DueDelivery:
    id: int
    link_id: str
    purpose: str
    channel: str
    secret: bytes
    send_before: datetime
    attempts: int


@dataclass(frozen=True)
class Access:
    kind: str
    at: datetime
    client_ip: str | None
    user_agent: str | None
    id: int = 0  # the row's place among the link's accesses: the page cursor's tie-breaker


_LINK_FIELDS = (
    "link_id", "tenant_id", "action", "resource_id", "recipient_name", "recipient_email", "recipient_phone",
    "recipient_language", "issued_at", "expires_at", "max_uses", "uses", "opens", "last_opened_at", "last_used_at",
    "revoked_at", "verification", "verification_locked_at", "verification_locked_until",
    "verification_locks", "delivery", "delivery_status", "expiry_recorded",
)
_LINK_COLUMNS = ", ".join(_LINK_FIELDS)


def _link(row: asyncpg.Record) -> Link:
    return Link(
        link_id=row["link_id"], tenant_id=row["tenant_id"], action=row["action"], resource_id=row["resource_id"],
        recipient=Recipient(row["recipient_name"], row["recipient_email"], row["recipient_phone"],
                            row["recipient_language"]),
        issued_at=row["issued_at"], expires_at=row["expires_at"], max_uses=row["max_uses"], uses=row["uses"],
        opens=row["opens"], last_opened_at=row["last_opened_at"], last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"], verification=row["verification"],
        verification_locked_at=row["verification_locked_at"],
        verification_locked_until=row["verification_locked_until"], verification_locks=row["verification_locks"],
        delivery=row["delivery"],
        delivery_status=row["delivery_status"], expiry_recorded=row["expiry_recorded"],
    )


class LinksRepository:
    def __init__(self, schema: str) -> None:
        self._schema = quote_ident(schema)

    # ---- the links read model (written by projections.LinkRows) ----------------------------------------------

    async def link(self, connection: asyncpg.Connection | asyncpg.Pool, link_id: str) -> Link | None:
        row = await connection.fetchrow(f"SELECT {_LINK_COLUMNS} FROM {self._schema}.links WHERE link_id = $1",
                                        link_id)
        return _link(row) if row else None

    async def links_for_resource(self, connection: asyncpg.Connection | asyncpg.Pool, tenant_id: str,
                                 resource_id: str, limit: int,
                                 before: tuple[datetime, str] | None = None) -> list[Link]:
        """Newest first; ``before`` is the (issued_at, link_id) of the previous page's last link."""
        rows = await connection.fetch(
            f"SELECT {_LINK_COLUMNS} FROM {self._schema}.links WHERE tenant_id = $1 AND resource_id = $2"
            " AND ($4::timestamptz IS NULL OR (issued_at, link_id) < ($4, $5))"
            " ORDER BY issued_at DESC, link_id DESC LIMIT $3",
            tenant_id, resource_id, limit, *(before or (None, None)),
        )
        return [_link(row) for row in rows]

    async def links_past_expiry(self, connection: asyncpg.Connection | asyncpg.Pool, now: datetime,
                                limit: int) -> list[str]:
        """Links whose expiry has passed with no LinkExpired recorded yet (revoked ones never get one)."""
        rows = await connection.fetch(
            f"SELECT link_id FROM {self._schema}.links WHERE expires_at <= $1 AND NOT expiry_recorded"
            " AND revoked_at IS NULL ORDER BY expires_at LIMIT $2", now, limit)
        return [row["link_id"] for row in rows]

    async def links_ended_before(self, connection: asyncpg.Connection | asyncpg.Pool, cutoff: datetime,
                                 limit: int) -> list[str]:
        """Links that ended -- expired, revoked or used up -- before ``cutoff``."""
        rows = await connection.fetch(
            f"SELECT link_id FROM {self._schema}.links WHERE expires_at < $1 OR revoked_at < $1"
            " OR (max_uses IS NOT NULL AND uses >= max_uses AND last_used_at < $1) LIMIT $2", cutoff, limit)
        return [row["link_id"] for row in rows]

    async def erase_link_records(self, connection: asyncpg.Connection, link_id: str) -> None:
        """The plain rows of a link being forgotten: its token hash, code, pending messages and access records."""
        for table in ("link_tokens", "link_verifications", "pending_deliveries", "link_accesses",
                      "resendable_tokens"):
            await connection.execute(f"DELETE FROM {self._schema}.{table} WHERE link_id = $1", link_id)

    # ---- token hashes ---------------------------------------------------------------------------------------

    async def save_token_hash(self, connection: asyncpg.Connection, link_id: str, token_hash: TokenHash) -> None:
        await connection.execute(
            f"INSERT INTO {self._schema}.link_tokens (token_hash, pepper_id, link_id) VALUES ($1, $2, $3)",
            token_hash.digest, token_hash.pepper_id, link_id,
        )

    async def links_by_token_hashes(self, connection: asyncpg.Connection | asyncpg.Pool,
                                    candidates: list[TokenHash]) -> list[tuple[Link, TokenHash]]:
        rows = await connection.fetch(
            f"SELECT t.token_hash, t.pepper_id, {', '.join(f'l.{name}' for name in _LINK_FIELDS)}"
            f" FROM {self._schema}.link_tokens t JOIN {self._schema}.links l USING (link_id)"
            " WHERE t.token_hash = ANY($1::bytea[])",
            [candidate.digest for candidate in candidates],
        )
        return [(_link(row), TokenHash(row["pepper_id"], row["token_hash"])) for row in rows]

    # ---- recipient verification -----------------------------------------------------------------------------

    async def verification_for_update(self, connection: asyncpg.Connection,
                                      link_id: str) -> tuple[VerificationState, TokenHash | None]:
        """The link's verification state, row-locked so that concurrent code checks count every wrong try."""
        row = await connection.fetchrow(
            f"SELECT code_hash, pepper_id, code_issued_at, code_expires_at, failed_attempts, code_sends"
            f" FROM {self._schema}.link_verifications WHERE link_id = $1 FOR UPDATE",
            link_id,
        )
        if row is None:
            return VerificationState(), None
        state = VerificationState(row["failed_attempts"], row["code_issued_at"], row["code_expires_at"],
                                  tuple(row["code_sends"]))
        code_hash = TokenHash(row["pepper_id"], row["code_hash"]) if row["code_hash"] is not None else None
        return state, code_hash

    async def save_new_code(self, connection: asyncpg.Connection, link_id: str, code_hash: TokenHash,
                            issued_at: datetime, expires_at: datetime) -> None:
        await connection.execute(
            f"""
            INSERT INTO {self._schema}.link_verifications AS v
                (link_id, code_hash, pepper_id, code_issued_at, code_expires_at, code_sends)
            VALUES ($1, $2, $3, $4, $5, ARRAY[$4::timestamptz])
            ON CONFLICT (link_id) DO UPDATE SET code_hash = EXCLUDED.code_hash, pepper_id = EXCLUDED.pepper_id,
                code_issued_at = EXCLUDED.code_issued_at, code_expires_at = EXCLUDED.code_expires_at,
                -- the sending caps count the last day's sends; older ones are dropped here
                code_sends = array(SELECT sent FROM unnest(v.code_sends) AS sent
                                   WHERE sent > $4::timestamptz - interval '1 day') || $4::timestamptz
            """,
            link_id, code_hash.digest, code_hash.pepper_id, issued_at, expires_at,
        )

    async def save_code_outcome(self, connection: asyncpg.Connection, link_id: str, *, failed_attempts: int,
                                code_used: bool) -> None:
        # A right code is spent at once: its expiry moves back to when it was issued (the row stays, so the
        # resend interval still counts from then). A wrong code for a link never sent one still counts.
        await connection.execute(
            f"""
            INSERT INTO {self._schema}.link_verifications AS v (link_id, failed_attempts) VALUES ($1, $2)
            ON CONFLICT (link_id) DO UPDATE SET failed_attempts = EXCLUDED.failed_attempts,
                code_expires_at = CASE WHEN $3 THEN v.code_issued_at ELSE v.code_expires_at END
            """,
            link_id, failed_attempts, code_used,
        )

    # ---- deliveries waiting to be sent --------------------------------------------------------------------

    async def queue_delivery(self, connection: asyncpg.Connection, *, link_id: str, purpose: str, channel: str,
                             secret: bytes, send_before: datetime) -> None:
        if purpose in ("code", "reminder"):  # only the newest code is worth sending, and one reminder at a time
            await connection.execute(
                f"DELETE FROM {self._schema}.pending_deliveries WHERE link_id = $1 AND purpose = $2",
                link_id, purpose)
        await connection.execute(
            f"INSERT INTO {self._schema}.pending_deliveries (link_id, purpose, channel, secret, send_before)"
            " VALUES ($1, $2, $3, $4, $5)",
            link_id, purpose, channel, secret, send_before,
        )

    async def claim_due_deliveries(self, connection: asyncpg.Connection | asyncpg.Pool, *, limit: int,
                                   lease_seconds: float) -> list[DueDelivery]:
        """Take up to ``limit`` due rows for this worker: other workers skip them, and if this one dies they are
        due again when the lease ends. The transaction is over before anything is sent."""
        rows = await connection.fetch(
            f"""
            UPDATE {self._schema}.pending_deliveries
            SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
            WHERE id IN (SELECT id FROM {self._schema}.pending_deliveries WHERE next_attempt_at <= now()
                         ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
            RETURNING id, link_id, purpose, channel, secret, send_before, attempts
            """,
            limit, lease_seconds,
        )
        return [DueDelivery(**dict(row)) for row in rows]

    async def retry_delivery_later(self, connection: asyncpg.Connection | asyncpg.Pool, delivery_id: int,
                                   delay_seconds: float, error: str) -> None:
        await connection.execute(
            f"UPDATE {self._schema}.pending_deliveries SET next_attempt_at = now() + make_interval(secs => $2),"
            " last_error = $3 WHERE id = $1",
            delivery_id, delay_seconds, error,
        )

    async def erase_delivery(self, connection: asyncpg.Connection | asyncpg.Pool, delivery_id: int) -> None:
        await connection.execute(f"DELETE FROM {self._schema}.pending_deliveries WHERE id = $1", delivery_id)

    # ---- tokens kept for sending a link again ----------------------------------------------------------------

    async def keep_resendable_token(self, connection: asyncpg.Connection, link_id: str, secret: bytes) -> None:
        await connection.execute(
            f"INSERT INTO {self._schema}.resendable_tokens (link_id, secret) VALUES ($1, $2)", link_id, secret)

    async def resendable_token(self, connection: asyncpg.Connection, link_id: str) -> bytes | None:
        return await connection.fetchval(
            f"SELECT secret FROM {self._schema}.resendable_tokens WHERE link_id = $1", link_id)

    async def erase_resendable_token(self, connection: asyncpg.Connection, link_id: str) -> None:
        await connection.execute(f"DELETE FROM {self._schema}.resendable_tokens WHERE link_id = $1", link_id)

    # ---- access records -----------------------------------------------------------------------------------

    async def record_access(self, connection: asyncpg.Connection, link_id: str, kind: str, at: datetime,
                            client_ip: str | None, user_agent: str | None) -> None:
        await connection.execute(
            f"INSERT INTO {self._schema}.link_accesses (link_id, kind, at, client_ip, user_agent)"
            " VALUES ($1, $2, $3, $4, $5)",
            link_id, kind, at, client_ip, user_agent,
        )

    async def accesses(self, connection: asyncpg.Connection | asyncpg.Pool, link_id: str, *, limit: int,
                       after: tuple[datetime, int] | None = None) -> list[Access]:
        """Oldest first; ``after`` is the (at, id) of the previous page's last access."""
        rows = await connection.fetch(
            f"SELECT kind, at, client_ip, user_agent, id FROM {self._schema}.link_accesses WHERE link_id = $1"
            " AND ($3::timestamptz IS NULL OR (at, id) > ($3, $4)) ORDER BY at, id LIMIT $2",
            link_id, limit, *(after or (None, None)),
        )
        return [Access(**dict(row)) for row in rows]

    # ---- housekeeping ---------------------------------------------------------------------------------------

    async def forget_old_accesses(self, connection: asyncpg.Connection | asyncpg.Pool,
                                  access_retention_days: int) -> None:
        await connection.execute(
            f"DELETE FROM {self._schema}.link_accesses WHERE at < now() - make_interval(days => $1)",
            access_retention_days,
        )
