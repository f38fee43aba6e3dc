"""The service layer: one async function per command or query.

A command runs through the kernel's decider runner: the aggregate's stream is loaded, the domain decides, and the
events are appended and projected into the read models in one transaction, retried on a lost race. A command
that needs another aggregate loads it from its stream first (a folder needs its account) and hands it to the
domain as it is now. No database transaction waits on the network: object storage and the links service are
called before or after one, never inside.

Links are issued after the share or upload request is recorded, by a step that is idempotent per recipient (the
links service replays an issue with the same key), run at once by the request and then by the worker until the
links all exist -- or until the deadline, when the request fails and any link already issued is revoked. Revoking
at the links service is a job too, so no live link ever points at nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, TypeVar

import asyncpg
import structlog

from loginless.documents import domain, filetypes
from loginless.documents.domain import Account, Document, Folder, LinkHolder, Share, UploadRequest
from loginless.documents.ports import Scanner
from loginless.documents.previews import Fetch, ViewOnlyPreviews, watermark_text
from loginless.documents.repository import DueJob, JobKind, Repository, document_of
from loginless.documents.settings import DocumentsSettings
from loginless.documents.storage import DocumentStorage, PartBuffer, PartBuffers, UploadedPart
from loginless.events import CloudEvent, UnknownEventType, event_class
from loginless.events.payloads.links import LinkExpired, LinkRevoked
from loginless.events.payloads.payments import InvoiceIssued, InvoicePaid, PaymentReversed
from loginless.links.client import LinksApi, LinksRefused
from loginless.links.views import IssueLinksIn, RecipientIn
from loginless.shared.clock import Clock, utc_now
from loginless.shared.errors import DependencyUnavailable, InvalidRequest, LoginlessError, NotFound
from loginless.shared.eventstore import Cause, DeciderRunner, EventStore, Outcome, Projections, database_errors
from loginless.shared.eventstore.runner import retrying_on_conflict
from loginless.shared.web.assertion import GuestAssertion
from loginless.shared.web.idempotency import IdempotentRequests

log = structlog.get_logger(__name__)

State = TypeVar("State")
Row = TypeVar("Row")
MAX_JOB_DELAY_SECONDS = 300.0
JOB_LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class DocumentsContext:
    """What every handler needs; built once per process by ``bootstrap``."""

    settings: DocumentsSettings
    store: EventStore
    projections: Projections
    accounts: DeciderRunner[Account, domain.CreateAccount | domain.InviteToPortal]
    folders: DeciderRunner[Folder, domain.CreateFolder]
    documents: DeciderRunner[Document, domain.DocumentCommand]
    shares: DeciderRunner[Share, domain.ShareCommand]
    upload_requests: DeciderRunner[UploadRequest, domain.UploadRequestCommand]
    accesses: DeciderRunner[domain.Access, domain.RecordAccess]
    repository: Repository
    storage: DocumentStorage
    links: LinksApi
    scanner: Scanner
    part_buffers: PartBuffers  # S3 part buffers of staff and guest uploads alike
    idempotency: IdempotentRequests
    previews: ViewOnlyPreviews
    clock: Clock = utc_now

    @property
    def pool(self) -> asyncpg.Pool:
        return self.store.pool

    def holders(self, resource_id: str) -> DeciderRunner:
        """The runner of a share (``shr_…``) or an upload request (``upr_…``)."""
        return self.shares if resource_id.startswith("shr_") else self.upload_requests


def _scoped(tenant_id: str, missing: str) -> Callable[[object], None]:
    """A runner check: the aggregate exists and belongs to the caller's tenant (another's is "not found")."""

    def check(state: object) -> None:
        if state is None or getattr(state, "tenant_id", None) != tenant_id:
            raise NotFound(missing)

    return check


async def _current(runner: DeciderRunner[State, object], stream_id: str, tenant_id: str) -> State | None:
    """The aggregate as it is now, if it is the tenant's."""
    state, _ = await runner.load(stream_id)
    return state if state is not None and getattr(state, "tenant_id", None) == tenant_id else None


# ---- accounts and folders ----------------------------------------------------------------------------------


async def create_account(ctx: DocumentsContext, tenant_id: str, *, name: str, email: str | None,
                         kind: domain.AccountKind, portal_access: bool, cause: Cause) -> Account:
    command = domain.CreateAccount(account_id=domain.new_id("act"), tenant_id=tenant_id, name=name, email=email,
                                   kind=kind, portal_access=portal_access, now=ctx.clock())
    return (await ctx.accounts.run(command.account_id, command, cause)).state


async def invite_account(ctx: DocumentsContext, tenant_id: str, account_id: str, *, cause: Cause) -> Account:
    outcome = await ctx.accounts.run(account_id, lambda: domain.InviteToPortal(ctx.clock()), cause,
                                     check=_scoped(tenant_id, "no such account"))
    return outcome.state


async def create_folder(ctx: DocumentsContext, tenant_id: str, account_id: str, *, name: str,
                        cause: Cause) -> Folder:
    account = await _current(ctx.accounts, account_id, tenant_id)
    command = domain.CreateFolder(folder_id=domain.new_id("fld"), account=account, name=name, now=ctx.clock())
    return (await ctx.folders.run(command.folder_id, command, cause)).state


# ---- documents -------------------------------------------------------------------------------------------


async def add_document(ctx: DocumentsContext, tenant_id: str, *, account_id: str, folder_id: str | None, name: str,
                       body: AsyncIterator[bytes], declared_length: int | None, cause: Cause) -> Document:
    """Stream a staff upload to S3 in parts, hashing on the way; refuse it past the size limit."""
    limit = ctx.settings.max_document_size
    if declared_length is not None and declared_length > limit:
        raise domain.TooLarge("the document is larger than this service accepts", max_size=limit)
    account = await _current(ctx.accounts, account_id, tenant_id)
    folder = await _current(ctx.folders, folder_id, tenant_id) if folder_id is not None else None
    if account is None:
        raise NotFound("no such account")
    if folder_id is not None and (folder is None or folder.account_id != account_id):
        raise NotFound("no such folder in this account")
    document_id = domain.new_id("doc")
    key = domain.object_key(tenant_id, document_id)
    display_name = domain.sanitize_display_name(name)
    writer = MultipartWriter(ctx.storage, key, ctx.part_buffers)
    # Room in the process's buffer budget before a byte is read: refused for want of it, nothing was written.
    async with ctx.part_buffers.room(min(ctx.part_buffers.part_size, declared_length or ctx.part_buffers.part_size)):
        try:
            async for chunk in body:
                if writer.size + len(chunk) > limit:
                    raise domain.TooLarge("the document is larger than this service accepts", max_size=limit)
                await writer.write(chunk)
            if writer.size == 0:
                raise domain.EmptyFile("the document is empty")
            await writer.finish()
        except BaseException:
            await writer.abort()
            raise
    command = domain.AddDocument(
        document_id=document_id, tenant_id=tenant_id, account=account, folder=folder, folder_id=folder_id,
        display_name=display_name, size=writer.size, sha256=writer.sha256,
        content_type=filetypes.sniff(writer.head, name=display_name).mime, now=ctx.clock())
    try:
        return (await ctx.documents.run(document_id, command, cause)).state
    except BaseException:
        await ctx.storage.delete_quietly(key)  # no event names it: don't leave it behind
        raise


async def document(ctx: DocumentsContext, tenant_id: str, document_id: str) -> Document:
    return document_of(await document_row(ctx, tenant_id, document_id))


# ---- queries of the staff API (the read models) ----------------------------------------------------------


async def _found(query: Awaitable[Row | None], missing: str) -> Row:
    async with database_errors():
        row = await query
    if row is None:
        raise NotFound(missing)
    return row


async def account(ctx: DocumentsContext, tenant_id: str, account_id: str) -> asyncpg.Record:
    return await _found(ctx.repository.account(ctx.pool, tenant_id, account_id), "no such account")


async def accounts(ctx: DocumentsContext, tenant_id: str, *, limit: int, after: str | None) -> list[asyncpg.Record]:
    async with database_errors():
        return await ctx.repository.accounts(ctx.pool, tenant_id, limit=limit, after=after)


async def folders(ctx: DocumentsContext, tenant_id: str, account_id: str, *, limit: int,
                  after: tuple[datetime, str] | None = None) -> list[asyncpg.Record]:
    await account(ctx, tenant_id, account_id)
    async with database_errors():
        return await ctx.repository.folders(ctx.pool, tenant_id, account_id, limit=limit, after=after)


async def document_row(ctx: DocumentsContext, tenant_id: str, document_id: str) -> asyncpg.Record:
    return await _found(ctx.repository.document(ctx.pool, tenant_id, document_id), "no such document")


async def documents_of(ctx: DocumentsContext, tenant_id: str, *, account_id: str | None, folder_id: str | None,
                       upload_request_id: str | None, limit: int, after: str | None) -> list[asyncpg.Record]:
    async with database_errors():
        return await ctx.repository.documents(ctx.pool, tenant_id, account_id=account_id, folder_id=folder_id,
                                              upload_request_id=upload_request_id, limit=limit, after=after)


async def share_detail(ctx: DocumentsContext, tenant_id: str, share_id: str,
                       ) -> tuple[asyncpg.Record, list[asyncpg.Record], list[asyncpg.Record]]:
    """The share, its recipients' links and the guests' accesses."""
    share = await _found(ctx.repository.share(ctx.pool, tenant_id, share_id), "no such share")
    async with database_errors():
        return (share, await ctx.repository.links_of(ctx.pool, share_id),
                await ctx.repository.accesses_of_share(ctx.pool, tenant_id, share_id))


async def upload_request_detail(ctx: DocumentsContext, tenant_id: str, upload_request_id: str,
                                ) -> tuple[asyncpg.Record, list[asyncpg.Record], list[asyncpg.Record]]:
    """The upload request, its recipients' links and the files received through it."""
    request = await _found(ctx.repository.upload_request(ctx.pool, tenant_id, upload_request_id),
                           "no such upload request")
    async with database_errors():
        return (request, await ctx.repository.links_of(ctx.pool, upload_request_id),
                await ctx.repository.documents(ctx.pool, tenant_id, account_id=None, folder_id=None,
                                               upload_request_id=upload_request_id, limit=1000, after=None))


# ---- shares and upload requests: recorded first, links issued after ----------------------------------------


@dataclass(frozen=True)
class Issued:
    """What a creating request answers: the resource as it is, and the URLs of the links issued during the
    request (tokens: shown once, never stored here)."""

    holder: LinkHolder
    urls: dict[str, str]


async def share_document(ctx: DocumentsContext, tenant_id: str, document_id: str, *,
                         recipients: list[domain.Recipient], view_only: bool, expires_at: datetime | None,
                         expires_in_seconds: int | None, locked_until_paid: str | None = None,
                         cause: Cause) -> Issued:
    """Share a document; with ``locked_until_paid`` (an invoice id) the share is locked from the start, in the
    same transaction, until documents sees the invoice paid -- at once, if it has seen that already."""
    now = ctx.clock()
    document = await _current(ctx.documents, document_id, tenant_id)
    expiry = domain.resolve_expiry(now, expires_at=expires_at, expires_in_seconds=expires_in_seconds,
                                   default=timedelta(days=ctx.settings.default_share_expiry_days))
    command = domain.PrepareShare(share_id=domain.new_id("shr"), document=document,
                                  recipients=domain.check_recipients(recipients), view_only=view_only,
                                  expires_at=expiry, now=now)
    if locked_until_paid is None:
        return await _record_and_issue(ctx, ctx.shares, command.share_id, command, cause)
    invoice_id = domain.check_invoice_id(locked_until_paid, "locked_until_paid")

    async def locked(connection: asyncpg.Connection) -> domain.PrepareShare:
        paid = await _invoice_paid(ctx, connection, tenant_id, invoice_id)
        return replace(command, lock=domain.LockUntilPaid(invoice_id, paid, ctx.clock()))

    return await _record_and_issue(ctx, ctx.shares, command.share_id, locked, cause)


async def create_upload_request(ctx: DocumentsContext, tenant_id: str, *, folder_id: str,
                                recipients: list[domain.Recipient], max_file_size: int | None,
                                allowed_types: list[str] | None, max_files: int | None, deadline: datetime | None,
                                expires_in_seconds: int | None, cause: Cause) -> Issued:
    now = ctx.clock()
    settings = ctx.settings
    folder = await _current(ctx.folders, folder_id, tenant_id)
    limits = domain.decide_upload_limits(
        max_file_size=max_file_size, allowed_types=allowed_types, max_files=max_files,
        default_size=settings.default_upload_file_size, size_ceiling=settings.max_upload_file_size,
        default_max_files=settings.default_upload_max_files)
    deadline = domain.resolve_expiry(now, expires_at=deadline, expires_in_seconds=expires_in_seconds,
                                     default=timedelta(days=settings.default_share_expiry_days))
    command = domain.PrepareUploadRequest(upload_request_id=domain.new_id("upr"), folder=folder,
                                          recipients=domain.check_recipients(recipients), limits=limits,
                                          deadline=deadline, now=now)
    return await _record_and_issue(ctx, ctx.upload_requests, command.upload_request_id, command, cause)


async def _record_and_issue(ctx: DocumentsContext, runner: DeciderRunner, resource_id: str,
                            command: object | Callable[[asyncpg.Connection], Awaitable[object]],
                            cause: Cause) -> Issued:
    """Record the resource with its issuing job, then issue its links at once; if the links service cannot
    answer now, the worker carries on and the resource stays ``pending`` meanwhile. ``command`` may be made in
    the recording transaction from what it reads (a share locked on an invoice reads what is known of it)."""
    give_up_at = ctx.clock() + timedelta(seconds=ctx.settings.link_issuing_deadline_seconds)

    async def record() -> Outcome:
        async with ctx.store.transaction() as connection:
            decided = await command(connection) if callable(command) else command
            outcome = await runner.run_in(connection, resource_id, decided, cause)
            await ctx.repository.queue_issuing(connection, resource_id, outcome.state.tenant_id, give_up_at)
            return outcome

    recorded = await retrying_on_conflict(record)
    urls: dict[str, str] = {}
    try:
        holder = await issue_links(ctx, resource_id, cause=cause, urls=urls, holder=recorded.state)
    except DependencyUnavailable as error:
        log.warning("links not all issued yet; the worker carries on", resource_id=resource_id, error=error.detail)
        holder, _ = await runner.load(resource_id)  # with the links recorded before links stopped answering
    except LoginlessError as error:  # refused for good: the resource ends failed, and says why
        await fail_issuing(ctx, resource_id, reason=error.detail, cause=cause)
        raise LinksRefused(error.detail, resource_id=resource_id, **error.extra) from error
    return Issued(holder, urls)


async def issue_links(ctx: DocumentsContext, resource_id: str, *, cause: Cause, urls: dict[str, str] | None = None,
                      holder: LinkHolder | None = None) -> LinkHolder | None:
    """Issue every missing link of a pending resource, one recipient at a time, and return the resource as it
    then is; the URLs issued now go into ``urls`` as they come (so the ones issued before a failure are not
    lost). ``holder`` is the resource as the caller just recorded it; else it is loaded.

    The key of each issue is the resource and the recipient's position, so running this again (after a crash,
    or by the worker beside a request) gets the same link back from links instead of a second one.
    """
    runner = ctx.holders(resource_id)
    if holder is None:
        holder, _ = await runner.load(resource_id)
    urls = {} if urls is None else urls
    if holder is None or holder.status != "pending":
        return holder
    for index, recipient in holder.still_to_issue():
        issued = await ctx.links.issue(holder.tenant_id, _issue_request(holder, recipient),
                                       idempotency_key=f"{resource_id}/{index}")
        [link] = issued.links
        urls[link.link_id] = link.url
        holder = await _record_issued(ctx, runner, resource_id, recipient.email, link.link_id, cause)
    return holder


async def _record_issued(ctx: DocumentsContext, runner: DeciderRunner, resource_id: str, email: str, link_id: str,
                         cause: Cause) -> LinkHolder:
    async def settle(connection: asyncpg.Connection, outcome: Outcome[LinkHolder]) -> None:
        if outcome.state.status != "pending":
            await ctx.repository.finish_job(connection, "issue", resource_id)
        if outcome.state.ended:  # revoked or failed meanwhile: this link must not live
            await ctx.repository.queue_revoking(connection, outcome.state.tenant_id, resource_id, [link_id])

    recorded = await runner.run(resource_id, lambda: domain.RecordLinkIssued(email, link_id, ctx.clock()), cause,
                                also=settle)
    return recorded.state


def _issue_request(holder: LinkHolder, recipient: domain.RecipientLink) -> IssueLinksIn:
    is_share = isinstance(holder, Share)
    return IssueLinksIn(
        action="view" if is_share else "upload", resource_id=holder.resource_id,
        expires_at=holder.expires_at if is_share else holder.deadline,
        recipients=[RecipientIn(email=recipient.email, name=recipient.name, language=recipient.language,
                                delivery="email")])


async def fail_issuing(ctx: DocumentsContext, resource_id: str, *, reason: str, cause: Cause) -> None:
    """The links could not all be issued: the resource ends failed, and the links that were are revoked."""
    runner = ctx.holders(resource_id)

    async def clean_up(connection: asyncpg.Connection, outcome: Outcome[LinkHolder]) -> None:
        await ctx.repository.finish_job(connection, "issue", resource_id)
        if outcome.events:
            await ctx.repository.queue_revoking(connection, outcome.state.tenant_id, resource_id,
                                                outcome.state.live_links())

    await runner.run(resource_id, lambda: domain.FailIssuance(reason[:300], ctx.clock()), cause, also=clean_up)
    log.warning("links could not be issued; request failed", resource_id=resource_id, reason=reason)
    await revoke_links_at_links(ctx, resource_id)


# ---- revoking --------------------------------------------------------------------------------------------


async def revoke_resource(ctx: DocumentsContext, tenant_id: str, resource_id: str, *, cause: Cause) -> None:
    """Revoke a share or an upload request: guests are refused here at once, and its links at links next."""
    runner = ctx.holders(resource_id)

    async def revoke_its_links(connection: asyncpg.Connection, outcome: Outcome[LinkHolder]) -> None:
        await ctx.repository.finish_job(connection, "issue", resource_id)
        await ctx.repository.queue_revoking(connection, tenant_id, resource_id, outcome.state.live_links())

    await runner.run(resource_id, lambda: domain.RevokeResource(ctx.clock()), cause,
                     check=_scoped(tenant_id, "no such share" if resource_id.startswith("shr_")
                                   else "no such upload request"), also=revoke_its_links)
    await revoke_links_at_links(ctx, resource_id)


async def revoke_recipient_link(ctx: DocumentsContext, tenant_id: str, resource_id: str, link_id: str, *,
                                cause: Cause) -> None:
    """Revoke one recipient's link of a share or an upload request; the others keep working."""

    async def revoke_it(connection: asyncpg.Connection, outcome: Outcome[LinkHolder]) -> None:
        if outcome.events:
            await ctx.repository.queue_revoking(connection, tenant_id, resource_id, [link_id])

    await ctx.holders(resource_id).run(resource_id, lambda: domain.RevokeRecipientLink(link_id, ctx.clock()),
                                       cause, check=_scoped(tenant_id, "no such link for this resource"),
                                       also=revoke_it)
    await revoke_links_at_links(ctx, resource_id)


async def revoke_links_at_links(ctx: DocumentsContext, resource_id: str) -> None:
    """Try the resource's revocations at once; whatever fails stays queued for the worker."""
    async with database_errors():
        jobs = await ctx.repository.revoking_jobs(ctx.pool, resource_id)
    for job in jobs:
        try:
            await _revoke_at_links(ctx, job)
        except DependencyUnavailable:
            return  # the worker tries again


async def _revoke_at_links(ctx: DocumentsContext, job: DueJob) -> None:
    """One queued revocation, done and its job finished; raises DependencyUnavailable while links is down."""
    try:
        await ctx.links.revoke(job.tenant_id, job.key)
    except NotFound:
        pass  # links never heard of it, or forgot it: nothing lives to revoke
    await ctx.repository.finish_job(ctx.pool, "revoke", job.key)


# ---- the worker: jobs at the links service ----------------------------------------------------------------


async def work_through_link_jobs(ctx: DocumentsContext, *, limit: int = 20) -> int:
    """One round of the worker: due issuing jobs (giving up at their deadline) and due revocations."""
    handled = 0
    for job in await ctx.repository.claim_due_jobs(ctx.pool, "issue", limit=limit, lease_seconds=JOB_LEASE_SECONDS):
        handled += 1
        cause = Cause(correlation_id=f"issue:{job.key}")
        try:
            if job.deadline is not None and ctx.clock() >= job.deadline:
                await fail_issuing(ctx, job.key, reason="the links service could not issue the links in time",
                                   cause=cause)
            else:
                holder = await issue_links(ctx, job.key, cause=cause)
                if holder is None or holder.status != "pending":
                    await ctx.repository.finish_job(ctx.pool, "issue", job.key)
        except DependencyUnavailable as error:
            await _later(ctx, "issue", job, error.detail)
        except LoginlessError as error:
            await fail_issuing(ctx, job.key, reason=error.detail, cause=cause)
    for job in await ctx.repository.claim_due_jobs(ctx.pool, "revoke", limit=limit,
                                                   lease_seconds=JOB_LEASE_SECONDS):
        handled += 1
        try:
            await _revoke_at_links(ctx, job)
        except DependencyUnavailable as error:
            await _later(ctx, "revoke", job, error.detail)
    return handled


async def _later(ctx: DocumentsContext, kind: JobKind, job: DueJob, error: str) -> None:
    delay = min(ctx.settings.link_job_retry_seconds * 2 ** (job.attempts - 1), MAX_JOB_DELAY_SECONDS)
    await ctx.repository.retry_job_later(ctx.pool, kind, job.key, delay, error)
    log.warning("links job failed; will retry", kind=kind, key=job.key, attempts=job.attempts, retry_in=delay,
                error=error)


# ---- what the links service tells us ---------------------------------------------------------------------


async def record_link_event(ctx: DocumentsContext, event: CloudEvent, connection: asyncpg.Connection) -> None:
    """A consumer's effect: a link of ours revoked or expired at links ends there for our views too. Events of
    other types, and links that are not ours, change nothing."""
    try:
        payload = event_class(event.type).model_validate(event.data)
    except UnknownEventType:
        return  # a newer event this version does not know: skipped, never a stalled partition
    if not isinstance(payload, LinkRevoked | LinkExpired):
        return
    resource_id = await ctx.repository.resource_of_link(connection, payload.link_id)
    if resource_id is None:
        return
    ending: Literal["revoked", "expired"] = "revoked" if isinstance(payload, LinkRevoked) else "expired"
    at = payload.revoked_at if isinstance(payload, LinkRevoked) else payload.expires_at
    await ctx.holders(resource_id).run_in(connection, resource_id, domain.RecordLinkEnded(payload.link_id, ending, at),
                                          Cause(event.correlationid or event.id, causation_id=event.id))


# ---- pay to unlock ------------------------------------------------------------------------------------------


async def _invoice_paid(ctx: DocumentsContext, connection: asyncpg.Connection, tenant_id: str,
                        invoice_id: str) -> bool:
    """Whether documents has seen the invoice paid, read under the invoice's hold (``Repository.hold_invoice``)."""
    await ctx.repository.hold_invoice(connection, tenant_id, invoice_id)
    standing = await ctx.repository.invoice_standing(connection, tenant_id, invoice_id)
    return standing is not None and standing.paid


async def lock_share(ctx: DocumentsContext, tenant_id: str, share_id: str, *, invoice_id: str,
                     cause: Cause) -> Share:
    """Lock a share until an invoice is paid (unlocked at once if documents has already seen it paid)."""
    invoice_id = domain.check_invoice_id(invoice_id)

    async def attempt() -> Outcome[Share]:
        async with ctx.store.transaction() as connection:
            paid = await _invoice_paid(ctx, connection, tenant_id, invoice_id)
            return await ctx.shares.run_in(connection, share_id,
                                           lambda: domain.LockUntilPaid(invoice_id, paid, ctx.clock()), cause,
                                           check=_scoped(tenant_id, "no such share"))

    return (await retrying_on_conflict(attempt)).state


async def release_share_lock(ctx: DocumentsContext, tenant_id: str, share_id: str, *, cause: Cause) -> Share:
    """Staff take a share's lock off by hand: the invoice was settled in a way payments does not announce."""
    outcome = await ctx.shares.run(share_id, lambda: domain.ReleaseLock(ctx.clock()), cause,
                                   check=_scoped(tenant_id, "no such share"))
    return outcome.state


PAYMENT_EVENTS = (InvoiceIssued, InvoicePaid, PaymentReversed)


async def record_payment_event(ctx: DocumentsContext, event: CloudEvent, connection: asyncpg.Connection) -> None:
    """A consumer's effect: an invoice's number (InvoiceIssued), its payment (InvoicePaid) or a reversal that
    reopens it (PaymentReversed) is noted in its standing, and every share of the same tenant locked on it is
    unlocked or locked again -- an event on each share's stream. Other types change nothing."""
    try:
        payload = event_class(event.type).model_validate(event.data)
    except UnknownEventType:
        return  # a newer event this version does not know: skipped, never a stalled partition
    if not isinstance(payload, PAYMENT_EVENTS):
        return
    tenant_id, invoice_id = payload.tenant_id, payload.invoice_id
    await ctx.repository.hold_invoice(connection, tenant_id, invoice_id)
    standing = await ctx.repository.invoice_standing(connection, tenant_id, invoice_id)
    standing, change = domain.invoice_standing_after(standing, payload)
    await ctx.repository.save_invoice_standing(connection, standing)
    if change is None:
        return
    cause = Cause(event.correlationid or event.id, causation_id=event.id)
    for share_id in await ctx.repository.shares_locked_on(connection, tenant_id, invoice_id):
        command = (domain.UnlockForPaidInvoice(invoice_id, ctx.clock()) if change == "paid"
                   else domain.RelockForReopenedInvoice(invoice_id, ctx.clock()))
        outcome = await ctx.shares.run_in(connection, share_id, command, cause)
        if outcome.events:
            log.info("share lock changed by a payment", share_id=share_id, invoice_id=invoice_id, change=change)


async def locking_invoice(ctx: DocumentsContext, share: Share) -> domain.InvoiceStanding:
    """The invoice a locked share waits for, as far as documents knows it (its number, once seen issued)."""
    assert share.lock is not None
    async with database_errors():
        standing = await ctx.repository.invoice_standing(ctx.pool, share.tenant_id, share.lock.invoice_id)
    return standing or domain.InvoiceStanding(tenant_id=share.tenant_id, invoice_id=share.lock.invoice_id)


# ---- guests ----------------------------------------------------------------------------------------------


async def guest_share(ctx: DocumentsContext, guest: GuestAssertion) -> tuple[Share, Document]:
    """The share and document a guest's link points at: always the assertion's resource, nothing else."""
    if guest.action != "view" or not guest.resource_id.startswith("shr_"):
        raise NotFound("this link does not share a document")
    share = domain.check_guest_share(await _current(ctx.shares, guest.resource_id, guest.tenant_id), guest.link_id,
                                     ctx.clock())
    return share, await document(ctx, guest.tenant_id, share.document_id)


async def record_access(ctx: DocumentsContext, guest: GuestAssertion, share: Share, kind: Literal["view", "download"],
                        *, client_ip: str | None, user_agent: str | None, cause: Cause) -> None:
    command = domain.RecordAccess(access_id=domain.new_id("axs"), kind=kind, share=share, link_id=guest.link_id,
                                  client_ip=client_ip, user_agent=user_agent, now=ctx.clock())
    await ctx.accesses.run(command.access_id, command, cause)


async def view_only_pages(ctx: DocumentsContext, guest: GuestAssertion, document: Document) -> int:
    """How many pages of a view-only PDF the guest can see (rendered on the server, never the PDF itself)."""
    return await ctx.previews.page_count(*_preview_of(ctx, guest, document))


async def view_only_page(ctx: DocumentsContext, guest: GuestAssertion, number: int) -> Path:
    """Page ``number`` (from 1) of a view-only share's PDF, rendered and watermarked for this guest."""
    document = await _view_only_document(ctx, guest)
    key, fetch, watermark = _preview_of(ctx, guest, document)
    return await ctx.previews.page(key, number, fetch, watermark)


async def view_only_picture(ctx: DocumentsContext, guest: GuestAssertion) -> Path:
    """A view-only share's picture, re-encoded without its metadata and watermarked for this guest."""
    document = await _view_only_document(ctx, guest)
    return await ctx.previews.picture(*_preview_of(ctx, guest, document))


async def guest_document(ctx: DocumentsContext, guest: GuestAssertion) -> tuple[Share, Document]:
    """The share and document of a guest's link, if its bytes may go out: never while it is locked."""
    share, document = await guest_share(ctx, guest)
    domain.check_unlocked(share)
    return share, document


async def _view_only_document(ctx: DocumentsContext, guest: GuestAssertion) -> Document:
    share, document = await guest_document(ctx, guest)
    if not share.view_only:
        raise NotFound("this share's preview is the document itself")
    return document


def _preview_of(ctx: DocumentsContext, guest: GuestAssertion, document: Document) -> tuple[str, Fetch, str]:
    """The folder key of this guest's rendering of ``document``, how to fetch the original, and the watermark."""

    async def fetch(path: Path) -> None:
        with path.open("wb") as file:
            async for chunk in ctx.storage.read_range(document.object_key):
                file.write(chunk)

    watermark = watermark_text(guest.recipient.email or f"link {guest.link_id}", ctx.clock())
    return f"{guest.link_id}/{document.document_id}", fetch, watermark


async def open_upload_request(ctx: DocumentsContext, guest: GuestAssertion) -> UploadRequest:
    """The upload request a guest's link points at, if it still takes files through that link."""
    if guest.action != "upload" or not guest.resource_id.startswith("upr_"):
        raise NotFound("this link does not accept uploads")
    request = await _current(ctx.upload_requests, guest.resource_id, guest.tenant_id)
    return domain.check_open_for_uploads(request, guest.link_id, ctx.clock())


async def files_received(ctx: DocumentsContext, guest: GuestAssertion) -> list[asyncpg.Record]:
    """What arrived through a guest's upload link, for their receipt."""
    async with database_errors():
        return await ctx.repository.files_of_link(ctx.pool, guest.link_id)


# ---- retention -------------------------------------------------------------------------------------------


async def forget_old_accesses(ctx: DocumentsContext, *, batch: int = 200) -> int:
    """Guests' access records past their retention are forgotten whole: each is a stream of its own, erased with
    its outbox messages and its read-model row (the kernel's ``Projections.forget``)."""
    cutoff = ctx.clock() - timedelta(days=ctx.settings.access_record_retention_days)
    return await ctx.projections.forget_all(
        lambda limit: ctx.repository.accesses_before(ctx.pool, cutoff, limit), batch=batch)


# ---- storing a staff upload --------------------------------------------------------------------------------


class MultipartWriter:
    """Stores a stream as S3 parts, hashing every byte; memory stays at one part buffer (shared with guest uploads,
    see ``PartBuffers``)."""

    def __init__(self, storage: DocumentStorage, key: str, buffers: PartBuffers) -> None:
        self.storage, self.key, self.buffers = storage, key, buffers
        self._digest = hashlib.sha256()
        self._buffer: PartBuffer | None = None
        self._parts: list[UploadedPart] = []
        self._upload_id: str | None = None
        self._storing = False
        self.size = 0
        self.head = b""

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    async def write(self, chunk: bytes) -> None:
        self._digest.update(chunk)
        self.size += len(chunk)
        if len(self.head) < filetypes.SNIFF_BYTES:
            self.head = (self.head + chunk)[: filetypes.SNIFF_BYTES]
        rest = memoryview(chunk)
        while rest:
            if self._buffer is None:
                self._buffer = self.buffers.take(self.buffers.part_size)
            rest = rest[self._buffer.fill(rest):]
            if self._buffer.full:
                await self._flush()

    async def _flush(self) -> None:
        if self._upload_id is None:
            self._upload_id = await self.storage.start_multipart(self.key)
        self._storing = True
        part = await self.storage.upload_part(self.key, self._upload_id, len(self._parts) + 1, self._buffer.view())
        self._storing = False
        self._parts.append(part)
        self._buffer.size = 0  # the part is stored: the buffer takes the next bytes

    async def finish(self) -> None:
        try:
            buffered = self._buffer.size if self._buffer is not None else 0
            if self._upload_id is None:  # small enough for one request
                await self.storage.put_bytes(self.key, bytes(self._buffer.view()) if buffered else b"")
            else:
                if buffered:
                    await self._flush()
                await self.storage.complete_multipart(self.key, self._upload_id, self._parts)
        finally:
            self._release()
        stored = await self.storage.size_of(self.key)
        if stored != self.size:
            raise InvalidRequest("the stored document is not the size that was sent")

    async def abort(self) -> None:
        self._release()
        if self._upload_id is not None:
            await self.storage.abort_multipart(self.key, self._upload_id)

    def _release(self) -> None:
        # A part cut short (a cancelled request) may still be read by its worker thread: that buffer is not reused.
        if self._buffer is not None and not self._storing:
            self.buffers.give_back(self._buffer)
        self._buffer = None
