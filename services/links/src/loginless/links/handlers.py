"""The service layer: one async function per command or query. A command runs through the kernel's decider
runner (load the link's stream, decide, append, project into the read model, all in one transaction) together
with the plain rows it touches: token hashes, codes, pending deliveries, access records.

A command that loses a race (``ConcurrencyConflict``) is run again on fresh state, so of two simultaneous uses
of a one-time link one succeeds and the other finds the link used up (410), rather than a bare 409.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
import structlog

from loginless.links.domain import (
    CodeJudgement,
    CodeLockPolicy,
    CodeSendingCaps,
    Command,
    ExpiryPolicy,
    IssueLink,
    IssueRequest,
    Link,
    LockVerification,
    OpenLink,
    RecordDelivery,
    RecordExpiry,
    ResetVerification,
    RevokeLink,
    UseLink,
    check_code_request,
    check_issue,
    code_channel,
    judge_code,
)
from loginless.links.errors import LinkNotFound, LinkNotResendable, WrongVerificationCode
from loginless.links.repository import Access, LinksRepository
from loginless.links.tenants import Tenants
from loginless.links.tokens import TokenHasher, is_well_formed_token, new_token, new_verification_code
from loginless.links.views import IssuedLink, IssuedLinks
from loginless.shared.cipher import DataCipher
from loginless.shared.clock import Clock, utc_now
from loginless.shared.eventstore import Cause, DeciderRunner, EventStore, Outcome, Projections, database_errors
from loginless.shared.eventstore.runner import retrying_on_conflict
from loginless.shared.web.idempotency import Answer, IdempotentRequests

log = structlog.get_logger(__name__)



@dataclass(frozen=True)
class LinksContext:
    """What every handler needs; built once per process by ``bootstrap``."""

    store: EventStore
    links: DeciderRunner[Link, Command]
    projections: Projections
    repository: LinksRepository
    tenants: Tenants
    hasher: TokenHasher
    cipher: DataCipher
    idempotency: IdempotentRequests
    expiry_policy: ExpiryPolicy
    public_url: str
    clock: Clock = utc_now
    code_caps: CodeSendingCaps = CodeSendingCaps()
    code_lock: CodeLockPolicy = CodeLockPolicy()
    sends_sms: bool = True  # False with LINKS_SMS_PROVIDER=none: links by SMS are refused when issued

    def url_for(self, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/l/{token}"


@dataclass(frozen=True)
class ClientInfo:
    client_ip: str | None = None
    user_agent: str | None = None


def delivery_secret_context(link_id: str, purpose: str) -> str:
    """AES-GCM associated data of a pending delivery's secret: it decrypts only for that link and purpose."""
    return f"delivery:{link_id}:{purpose}"


def resendable_token_context(link_id: str) -> str:
    """AES-GCM associated data of the token kept for sending a link again."""
    return f"resend:{link_id}"


# ---- issuing ----------------------------------------------------------------------------------------------


async def issue_links(ctx: LinksContext, tenant_id: str, request: IssueRequest, *, correlation_id: str,
                      idempotency_key: str | None = None) -> Answer:
    """One link per recipient; the answer is the first one given to this idempotency key, if any."""
    now = ctx.clock()
    checked = check_issue(request, ctx.expiry_policy, now, sends_sms=ctx.sends_sms)
    cause = Cause(correlation_id)

    async def issue() -> Answer:
        issued = []
        async with ctx.store.transaction() as connection:
            for recipient, delivery in checked.recipients:
                link_id, token = str(uuid.uuid4()), new_token()
                outcome = await ctx.links.run_in(connection, link_id, IssueLink(
                    link_id=link_id, tenant_id=tenant_id, action=request.action, resource_id=request.resource_id,
                    recipient=recipient, expires_at=checked.expires_at, max_uses=request.max_uses,
                    verification=request.verification, delivery=delivery, now=now,
                ), cause, known=(None, 0))  # a stream named just now: nothing to read
                link = outcome.state
                await ctx.repository.save_token_hash(connection, link_id, ctx.hasher.hash(token))
                if delivery != "none":
                    secret = ctx.cipher.encrypt(token.encode(),
                                                associated_data=delivery_secret_context(link_id, "link"))
                    await ctx.repository.queue_delivery(connection, link_id=link_id, purpose="link",
                                                        channel=delivery, secret=secret,
                                                        send_before=link.expires_at)
                    await ctx.repository.keep_resendable_token(connection, link_id, ctx.cipher.encrypt(
                        token.encode(), associated_data=resendable_token_context(link_id)))
                issued.append(IssuedLink.of(link, ctx.url_for(token), now))
        log.info("links issued", tenant_id=tenant_id, action=request.action, link_ids=[i.link_id for i in issued])
        return Answer(201, IssuedLinks(links=issued).model_dump(mode="json"))

    return await ctx.idempotency.run(tenant_id=tenant_id, operation="issue-links", key=idempotency_key,
                                     request=asdict(request), work=issue)


# ---- changing one link ------------------------------------------------------------------------------------


async def revoke_link(ctx: LinksContext, tenant_id: str, link_id: str, *, correlation_id: str) -> Link:
    link = await _change(ctx, link_id, RevokeLink, correlation_id=correlation_id, tenant_id=tenant_id)
    log.info("link revoked", tenant_id=tenant_id, link_id=link_id)
    return link


async def reset_verification(ctx: LinksContext, tenant_id: str, link_id: str, *, correlation_id: str) -> Link:
    """Staff end the link's code lock and forget its wrong codes: the recipient may try again at once."""

    async def forget_wrong_codes(connection: asyncpg.Connection) -> None:
        await ctx.repository.save_code_outcome(connection, link_id, failed_attempts=0, code_used=False)

    link = await _change(ctx, link_id, ResetVerification, correlation_id=correlation_id, tenant_id=tenant_id,
                         also=forget_wrong_codes)
    log.info("link verification reset", tenant_id=tenant_id, link_id=link_id)
    return link


async def record_open(ctx: LinksContext, link_id: str, client: ClientInfo, *, correlation_id: str) -> Link:
    return await _change(ctx, link_id, OpenLink, correlation_id=correlation_id, access=("opened", client))


async def use_link(ctx: LinksContext, link_id: str, client: ClientInfo, *, correlation_id: str) -> Link:
    link = await _change(ctx, link_id, UseLink, correlation_id=correlation_id, access=("used", client))
    log.info("link used", tenant_id=link.tenant_id, link_id=link_id, uses=link.uses)
    return link


async def record_delivery(ctx: LinksContext, link_id: str, *, channel: Literal["email", "sms"], attempts: int,
                          failure: str | None, correlation_id: str,
                          also: Callable[[asyncpg.Connection], Awaitable[None]],
                          provider_message_id: str | None = None) -> Link:
    """The worker's report of a delivery sent (``failure`` None) or given up; ``also`` runs in the same
    transaction (it erases the pending delivery, so the outcome and the erasure commit together)."""
    return await _change(ctx, link_id,
                         lambda now: RecordDelivery(channel, attempts, now, failure, provider_message_id),
                         correlation_id=correlation_id, also=also)


async def record_expiry(ctx: LinksContext, link_id: str, *, correlation_id: str) -> Link:
    return await _change(ctx, link_id, RecordExpiry, correlation_id=correlation_id)


async def _change(ctx: LinksContext, link_id: str, command: Callable[[datetime], Command], *, correlation_id: str,
                  tenant_id: str | None = None, access: tuple[Literal["opened", "used"], ClientInfo] | None = None,
                  also: Callable[[asyncpg.Connection], Awaitable[None]] | None = None) -> Link:
    """One command on one link through the runner, with the access record or ``also`` in its transaction."""
    _require_link_id(link_id)
    now = ctx.clock()

    def command_now() -> Command:  # on every attempt: a retried command happens at its own moment
        nonlocal now
        now = ctx.clock()
        return command(now)

    def check(link: Link | None) -> None:
        if link is None or (tenant_id is not None and link.tenant_id != tenant_id):
            raise LinkNotFound()

    async def alongside(connection: asyncpg.Connection, outcome: Outcome[Link]) -> None:
        if outcome.state is not None and outcome.state.status(now) != "active":
            # An ended link never opens again: the token kept for sending it again goes with it.
            await ctx.repository.erase_resendable_token(connection, link_id)
        if access is not None:
            kind, client = access
            await ctx.repository.record_access(connection, link_id, kind, now, client.client_ip,
                                               client.user_agent)
        if also is not None:
            await also(connection)

    outcome = await ctx.links.run(link_id, command_now, Cause(correlation_id), check=check, also=alongside)
    return outcome.state


def _require_link_id(link_id: str) -> None:
    """Link ids are UUIDs; anything else is unknown without asking the database."""
    try:
        if str(uuid.UUID(link_id)) == link_id:
            return
    except ValueError:
        pass
    raise LinkNotFound()


async def resend_link(ctx: LinksContext, link_id: str, *, tenant_id: str | None = None) -> Link:
    """Queue an active link's own URL to be sent again through the channel it was delivered by (a reminder, or
    staff's "send it again"): no new token exists, and the one kept encrypted never leaves links."""
    _require_link_id(link_id)
    async with ctx.store.transaction() as connection:
        link, _ = await ctx.links.load(link_id, connection)
        if link is None or (tenant_id is not None and link.tenant_id != tenant_id):
            raise LinkNotFound()
        link.require_active(ctx.clock())
        kept = await ctx.repository.resendable_token(connection, link_id)
        if link.delivery == "none" or kept is None:
            raise LinkNotResendable()
        try:
            token = ctx.cipher.decrypt(kept, associated_data=resendable_token_context(link_id))
        except ValueError as error:
            raise LinkNotResendable("the kept token cannot be decrypted (was LINKS_DATA_KEY changed?)") from error
        secret = ctx.cipher.encrypt(token, associated_data=delivery_secret_context(link_id, "reminder"))
        await ctx.repository.queue_delivery(connection, link_id=link_id, purpose="reminder", channel=link.delivery,
                                            secret=secret, send_before=link.expires_at)
    log.info("link queued to be sent again", tenant_id=link.tenant_id, link_id=link_id, channel=link.delivery)
    return link


# ---- housekeeping -----------------------------------------------------------------------------------------


async def record_expiries(ctx: LinksContext, *, limit: int = 100) -> int:
    """Record LinkExpired for links whose expiry passed; returns how many were recorded."""
    async with database_errors():
        due = await ctx.repository.links_past_expiry(ctx.store.pool, ctx.clock(), limit)
    for link_id in due:
        await record_expiry(ctx, link_id, correlation_id=f"expiry:{link_id}")
    return len(due)


async def forget_ended_links(ctx: LinksContext, *, retention: timedelta, limit: int = 100) -> int:
    """Forget links that ended more than ``retention`` ago, whole: events, outbox messages, read model, token
    hash, codes, pending messages and access records, in one transaction per link."""
    async with database_errors():
        ended = await ctx.repository.links_ended_before(ctx.store.pool, ctx.clock() - retention, limit)
    for link_id in ended:
        async with ctx.store.transaction() as connection:
            await ctx.projections.forget(link_id, connection)
            await ctx.repository.erase_link_records(connection, link_id)
    if ended:
        log.info("ended links forgotten", count=len(ended))
    return len(ended)


# ---- queries ----------------------------------------------------------------------------------------------


async def get_link(ctx: LinksContext, link_id: str, *, tenant_id: str | None = None) -> Link:
    """One link; with ``tenant_id`` only that tenant's (another tenant's link is as unknown as a made-up id)."""
    _require_link_id(link_id)
    async with database_errors():
        link = await ctx.repository.link(ctx.store.pool, link_id)
    if link is None or (tenant_id is not None and link.tenant_id != tenant_id):
        raise LinkNotFound()
    return link


async def links_for_resource(ctx: LinksContext, tenant_id: str, resource_id: str, *, limit: int,
                             before: tuple[datetime, str] | None = None) -> list[Link]:
    async with database_errors():
        return await ctx.repository.links_for_resource(ctx.store.pool, tenant_id, resource_id, limit, before)


async def accesses(ctx: LinksContext, tenant_id: str, link_id: str, *, limit: int,
                   after: tuple[datetime, int] | None = None) -> list[Access]:
    await get_link(ctx, link_id, tenant_id=tenant_id)
    async with database_errors():
        return await ctx.repository.accesses(ctx.store.pool, link_id, limit=limit, after=after)


async def resolve_token(ctx: LinksContext, token: str) -> Link:
    """The active link a token opens. Unknown and malformed tokens are the same ``LinkNotFound``; a known but
    expired, revoked or used-up one is ``LinkGone``. Records nothing."""
    if not is_well_formed_token(token):
        raise LinkNotFound()
    async with database_errors():
        found = await ctx.repository.links_by_token_hashes(ctx.store.pool, ctx.hasher.candidates(token))
    for link, stored_hash in found:
        if ctx.hasher.matches(token, stored_hash):
            link.require_active(ctx.clock())
            return link
    raise LinkNotFound()


# ---- recipient verification -------------------------------------------------------------------------------


async def send_verification_code(ctx: LinksContext, link_id: str) -> None:
    """A new 6-digit code for the recipient, queued for the worker to send; only its HMAC is kept."""
    _require_link_id(link_id)
    now = ctx.clock()
    async with ctx.store.transaction() as connection:
        link, _ = await ctx.links.load(link_id, connection)
        if link is None:
            raise LinkNotFound()
        verification, _ = await ctx.repository.verification_for_update(connection, link_id)
        expires_at = check_code_request(link, verification, now, ctx.code_caps)
        code = new_verification_code()
        await ctx.repository.save_new_code(connection, link_id, ctx.hasher.hash(code, context=link_id), now,
                                           expires_at)
        secret = ctx.cipher.encrypt(code.encode(), associated_data=delivery_secret_context(link_id, "code"))
        await ctx.repository.queue_delivery(connection, link_id=link_id, purpose="code", channel=code_channel(link),
                                            secret=secret, send_before=expires_at)
    log.info("verification code queued", tenant_id=link.tenant_id, link_id=link_id, channel=code_channel(link))


async def check_verification_code(ctx: LinksContext, link_id: str, code: str, *, correlation_id: str) -> None:
    """Return if ``code`` is the link's current code; else raise ``WrongVerificationCode`` (with the attempts
    left) or, on the last allowed wrong code and until its pause ends, ``VerificationLocked`` (with
    ``retry_after``). Wrong tries are committed first."""
    _require_link_id(link_id)

    async def attempt() -> tuple[Link | None, CodeJudgement]:
        now = ctx.clock()
        async with ctx.store.transaction() as connection:
            link, version = await ctx.links.load(link_id, connection)
            if link is None:
                raise LinkNotFound()
            verification, code_hash = await ctx.repository.verification_for_update(connection, link_id)
            matches = code_hash is not None and ctx.hasher.matches(code, code_hash, context=link_id)
            judgement = judge_code(link, verification, code_matches=matches, now=now)
            if judgement.locks:
                outcome = await ctx.links.run_in(connection, link_id, LockVerification(now, ctx.code_lock),
                                                 Cause(correlation_id), known=(link, version))
                link = outcome.state
            await ctx.repository.save_code_outcome(connection, link_id, failed_attempts=judgement.failed_attempts,
                                                   code_used=judgement.verified)
            return link, judgement

    link, judgement = await retrying_on_conflict(attempt)
    assert link is not None
    if judgement.verified:
        log.info("recipient verified", tenant_id=link.tenant_id, link_id=link_id)
        return
    if judgement.locks:
        log.warning("verification locked after too many wrong codes", tenant_id=link.tenant_id, link_id=link_id,
                    locked_until=link.verification_locked_until, locks=link.verification_locks)
        link.require_unlocked(ctx.clock())
    raise WrongVerificationCode(attempts_left=judgement.attempts_left)
