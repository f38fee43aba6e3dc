"""Resumable guest uploads: the tus 1.0 protocol (core, creation, termination) on an S3 multipart upload.

State lives in PostgreSQL (``tus_uploads``), so any replica can take the next PATCH. Bytes flow straight
through to S3: a PATCH body fills part buffers (``upload_part_size``), each stored as an S3 part while the next
fills, at most two held at a time; bytes left over at the end of a PATCH -- less than S3's 5 MiB minimum part --
wait in a small ``<key>.tail`` object for the next PATCH. A dropped connection keeps everything received, so
the client resumes exactly where the server says (HEAD → ``Upload-Offset``), which only ever counts parts S3
acknowledged.

One PATCH at a time per upload: a request takes a lease on the row (renewed as it goes) rather than holding a
database transaction open while a slow client sends.

The SHA-256 is computed while the bytes stream through, carried from PATCH to PATCH in this process. When a
PATCH lands on another replica (or after a restart) that running digest is gone; the object is then hashed
once more from S3 after completion. Either way FileUploaded is appended only after S3 completed the object,
checked every part on arrival (see ``DocumentStorage.upload_part``), the size matches, and the scanner passed it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import secrets
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog

from loginless.documents import domain, filetypes
from loginless.documents.handlers import DocumentsContext, open_upload_request
from loginless.documents.storage import MIN_PART_SIZE, PartBuffer, UploadedPart
from loginless.shared.errors import InvalidRequest, LoginlessError, NotFound
from loginless.shared.eventstore import Cause, advisory_key
from loginless.shared.eventstore.runner import retrying_on_conflict
from loginless.shared.web.assertion import GuestAssertion

log = structlog.get_logger(__name__)

LEASE_SECONDS = 60.0
MAX_METADATA_LENGTH = 4096
RUNNING_DIGESTS = 1000  # uploads whose running SHA-256 this process keeps between PATCHes
PARTS_IN_FLIGHT = 2  # parts of one PATCH on their way to S3 at once; also the buffers a PATCH holds at most


class Locked(LoginlessError):
    status_code = 423
    problem_type = "upload-busy"
    title = "Another request is writing to this upload"


class OffsetMismatch(LoginlessError):
    status_code = 409
    problem_type = "offset-mismatch"
    title = "Upload-Offset does not match the upload's offset"


class ScanRejected(LoginlessError):
    status_code = 422
    problem_type = "rejected-by-scan"
    title = "The file was refused by the antivirus scan"


class ClientDisconnected(Exception):
    """The guest's connection dropped in the middle of a PATCH body."""


@dataclass(frozen=True)
class UploadStatus:
    upload_id: str
    length: int
    offset: int
    file_id: str
    complete: bool = False


def parse_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (tus creation extension)."""
    if not header:
        return {}
    if len(header) > MAX_METADATA_LENGTH:
        raise InvalidRequest("Upload-Metadata is too long")
    metadata: dict[str, str] = {}
    for pair in header.split(","):
        key, _, value = pair.strip().partition(" ")
        if not key:
            continue
        try:
            metadata[key] = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidRequest(f"Upload-Metadata value of {key!r} is not base64 UTF-8") from error
    return metadata


class ResumableUploads:
    def __init__(self, ctx: DocumentsContext) -> None:
        self.ctx = ctx
        self.repo = ctx.repository
        self.storage = ctx.storage
        self.buffers = ctx.part_buffers
        self.part_size = self.buffers.part_size
        self._digests: OrderedDict[str, tuple[int, hashlib._Hash]] = OrderedDict()

    @property
    def pool(self):  # noqa: ANN201
        return self.ctx.pool

    async def _open_request(self, guest: GuestAssertion) -> domain.UploadRequest:
        return await open_upload_request(self.ctx, guest)

    async def limits(self, guest: GuestAssertion) -> tuple[domain.UploadRequest, int]:
        """The request behind a guest's link, and how many more files the link accepts."""
        request = await self._open_request(guest)
        used = await self.repo.count_files_of_link(self.pool, guest.link_id)
        return request, max(request.limits.max_files - used, 0)

    # ---- creation ----------------------------------------------------------------------------------------

    async def create(self, guest: GuestAssertion, *, length: int, metadata: dict[str, str]) -> UploadStatus:
        request = await self._open_request(guest)
        domain.check_new_file(request, length=length, files_so_far=0)  # cheap checks before any storage call
        await self.ctx.scanner.check_ready()  # 503 now, rather than after the guest sent the whole file
        file_id = domain.new_id("doc")
        key = domain.object_key(guest.tenant_id, file_id)
        display_name = domain.sanitize_display_name(metadata.get("filename") or metadata.get("name"))
        uploader_name, uploader_email = domain.clean_uploader(metadata.get("uploader_name"),
                                                              metadata.get("uploader_email"))
        s3_upload_id = await self.storage.start_multipart(key)
        upload_id = secrets.token_urlsafe(18)
        try:
            async with self.ctx.store.transaction() as connection:
                # One creation per link at a time, so two simultaneous ones cannot both take its last free slot.
                await connection.execute("SELECT pg_advisory_xact_lock($1)",
                                         advisory_key("upload-slots", guest.link_id))
                state, _ = await self.ctx.upload_requests.load(guest.resource_id, connection)
                request = domain.check_open_for_uploads(state, guest.link_id, self.ctx.clock())
                used = await self.repo.count_files_of_link(connection, guest.link_id)
                domain.check_new_file(request, length=length, files_so_far=used)
                await self.repo.insert_tus_upload(connection, {
                    "upload_id": upload_id, "tenant_id": guest.tenant_id,
                    "upload_request_id": request.upload_request_id, "link_id": guest.link_id, "file_id": file_id,
                    "object_key": key, "s3_upload_id": s3_upload_id, "length": length,
                    "display_name": display_name, "uploader_name": uploader_name, "uploader_email": uploader_email,
                })
        except BaseException:
            await self.storage.abort_multipart(key, s3_upload_id)
            raise
        log.info("upload started", upload_id=upload_id, link_id=guest.link_id, length=length)
        return UploadStatus(upload_id, length, 0, file_id)

    # ---- core --------------------------------------------------------------------------------------------

    async def _completed(self, guest: GuestAssertion, upload_id: str):  # noqa: ANN202
        done = await self.repo.completed_upload(self.pool, upload_id)
        if done is None or done["link_id"] != guest.link_id or done["tenant_id"] != guest.tenant_id:
            return None
        return done

    async def _row(self, guest: GuestAssertion, upload_id: str):  # noqa: ANN202
        row = await self.repo.tus_upload(self.pool, upload_id)
        # An upload id is only good with the link that created it.
        if row is None or row["link_id"] != guest.link_id or row["tenant_id"] != guest.tenant_id:
            raise NotFound("no such upload")
        return row

    async def status(self, guest: GuestAssertion, upload_id: str) -> UploadStatus:
        await self._open_request(guest)
        if (done := await self._completed(guest, upload_id)) is not None:
            # Complete already: a client that missed the last answer is told so, rather than starting over.
            return UploadStatus(upload_id, done["length"], done["length"], done["file_id"], complete=True)
        row = await self._row(guest, upload_id)
        return UploadStatus(upload_id, row["length"], row["received"], row["file_id"])

    async def append(self, guest: GuestAssertion, upload_id: str, *, offset: int, declared_length: int | None,
                     body: AsyncIterator[bytes], correlation_id: str) -> UploadStatus:
        """PATCH: append the body at ``offset``. Returns the new offset; completes the file at the end."""
        request = await self._open_request(guest)
        if (done := await self._completed(guest, upload_id)) is not None:
            # A PATCH that lost the race with the one that completed the upload: 409 sends the client to HEAD.
            raise OffsetMismatch(f"the upload is complete at offset {done['length']}", offset=done["length"])
        row = await self._row(guest, upload_id)
        if row["received"] != offset:
            raise OffsetMismatch(f"the upload is at offset {row['received']}", offset=row["received"])
        if declared_length is not None and offset + declared_length > row["length"]:
            raise domain.TooLarge("more bytes than Upload-Length announced")
        # Room in the process's buffer budget first: a PATCH refused for want of it has written nothing.
        async with self.buffers.room(min(PARTS_IN_FLIGHT * self.part_size, row["length"])):
            owner = secrets.token_hex(8)
            row = await self.repo.take_lease(self.pool, upload_id, owner, LEASE_SECONDS)
            if row is None:
                raise Locked("another request is writing to this upload; try again shortly")
            if row["received"] != offset:
                await self.repo.release_lease(self.pool, upload_id, owner)
                raise OffsetMismatch(f"the upload is at offset {row['received']}", offset=row["received"])
            session = _PatchSession(self, row, owner, request)
            try:
                received = await session.run(body)
            except BaseException:
                self._digests.pop(upload_id, None)
                await self.repo.release_lease(self.pool, upload_id, owner)
                raise
        if received < row["length"]:
            return UploadStatus(upload_id, row["length"], received, row["file_id"])
        await self._finish(request, row, session, correlation_id)
        return UploadStatus(upload_id, row["length"], received, row["file_id"], complete=True)

    def _running_digest(self, upload_id: str, received: int):  # noqa: ANN202
        entry = self._digests.get(upload_id)
        return entry[1].copy() if entry and entry[0] == received else None

    def _keep_digest(self, upload_id: str, received: int, digest) -> None:  # noqa: ANN001
        self._digests[upload_id] = (received, digest)
        self._digests.move_to_end(upload_id)
        while len(self._digests) > RUNNING_DIGESTS:
            self._digests.popitem(last=False)

    async def _finish(self, request: domain.UploadRequest, row, session: _PatchSession,  # noqa: ANN001
                      correlation_id: str) -> None:
        key, upload_id = row["object_key"], row["upload_id"]
        self._digests.pop(upload_id, None)
        try:
            await self.storage.complete_multipart(key, row["s3_upload_id"], session.parts)
            stored_size = await self.storage.size_of(key)
            if stored_size != row["length"]:
                raise InvalidRequest("the stored file is not the size that was announced")
            sha256 = session.digest.hexdigest() if session.digest else await self._hash_stored(key)
            # Scanned as stored. A scanner that cannot judge (clamd down) raises: 503, and nothing is released.
            verdict = await self.ctx.scanner.scan(
                content_type=session.content_type, size=stored_size,
                read=lambda: self.storage.read_range(key))
            upload = domain.CompletedUpload(
                file_id=row["file_id"], link_id=row["link_id"], display_name=row["display_name"], size=stored_size,
                sha256=sha256, content_type=session.content_type, uploader_name=row["uploader_name"],
                uploader_email=row["uploader_email"], scan_engine=verdict.engine)
            if not verdict.clean:
                await self._refused(request.upload_request_id, upload, verdict.signature, correlation_id)
                found = verdict.signature or verdict.reason or "malware"
                raise ScanRejected(f"“{upload.display_name}” was refused: the antivirus found {found}",
                                   file_name=upload.display_name, signature=verdict.signature)
            await retrying_on_conflict(
                lambda: self._record(upload_id, request.upload_request_id, upload, correlation_id))
        except BaseException:
            # Nothing becomes visible: drop the object and the upload, whatever went wrong after the last byte.
            await self._discard(row)
            raise
        with contextlib.suppress(LoginlessError):  # a leftover tail is harmless; the file is already complete
            await self.storage.delete_quietly(tail_key(key))
        log.info("upload complete", upload_id=upload_id, file_id=row["file_id"], size=row["length"])

    async def _record(self, upload_id: str, upload_request_id: str, upload: domain.CompletedUpload,
                      correlation_id: str) -> None:
        """FileUploaded, judged against the upload request as it is at this moment, with the upload's row turned
        into its record of completion, in one transaction."""
        async with self.ctx.store.transaction() as connection:
            request, _ = await self.ctx.upload_requests.load(upload_request_id, connection)
            now = self.ctx.clock()
            outcome = await self.ctx.documents.run_in(connection, upload.file_id,
                                                      domain.RecordUploadedFile(request, upload, now),
                                                      Cause(correlation_id))
            for recorded in outcome.events:  # the v1 copy, published beside v2 for its deprecation period
                await self.repo.publish_beside(connection, self.ctx.store.topic, recorded,
                                               domain.file_uploaded_v1(recorded.payload))
            await self.repo.complete_tus_upload(connection, upload_id, now)

    async def _refused(self, upload_request_id: str, upload: domain.CompletedUpload, signature: str | None,
                       correlation_id: str) -> None:
        """FileRefused on the upload request's stream, for staff to see; the object is deleted by the caller."""
        log.warning("upload refused by the antivirus", file_id=upload.file_id, signature=signature,
                    engine=upload.scan_engine)
        await self.ctx.upload_requests.run(
            upload_request_id, lambda: domain.RecordRefusedFile(upload, signature, self.ctx.clock()),
            Cause(correlation_id))

    async def _hash_stored(self, key: str) -> str:
        digest = hashlib.sha256()
        async for chunk in self.storage.read_range(key):
            digest.update(chunk)
        return digest.hexdigest()

    async def _discard(self, row) -> None:  # noqa: ANN001
        key = row["object_key"]
        await self.storage.abort_multipart(key, row["s3_upload_id"])
        await self.storage.delete_quietly(key)
        await self.storage.delete_quietly(tail_key(key))
        await self.repo.delete_tus_upload(self.pool, row["upload_id"])
        self._digests.pop(row["upload_id"], None)

    # ---- termination -------------------------------------------------------------------------------------

    async def terminate(self, guest: GuestAssertion, upload_id: str) -> None:
        row = await self._row(guest, upload_id)
        owner = secrets.token_hex(8)
        if await self.repo.take_lease(self.pool, upload_id, owner, LEASE_SECONDS) is None:
            raise Locked("the upload is being written; try again shortly")
        await self._discard(row)

    async def abandon_stale(self) -> int:
        """Abort uploads left unfinished for too long or whose request ended, and forget completed ones after as
        long (a worker task)."""
        hours = self.ctx.settings.abandoned_upload_hours
        rows = await self.repo.stale_tus_uploads(self.pool, idle_hours=hours)
        for row in rows:
            await self._discard(row)
        await self.repo.forget_completed_uploads(self.pool, older_than_hours=hours)
        return len(rows)


def tail_key(key: str) -> str:
    return f"{key}.tail"


class _PatchSession:
    """One PATCH request's work: fill part buffers, sniff, store parts, record progress, keep the running digest.

    Receiving and storing overlap. A full part goes to S3 in a worker thread while the next one fills from the
    body; S3 takes parts in parallel, so up to ``PARTS_IN_FLIGHT`` are on their way at once (minio's own
    ``put_object`` sends three). Parts are held in two buffers: while both are on their way, reading the body
    waits, which holds the client back through TCP. Progress in PostgreSQL only ever names parts S3 has
    acknowledged, in order, so ``HEAD`` never reports a byte that is not stored.

    The running SHA-256 is fed each part, in order, in a worker thread as the part is sent, so it covers exactly
    the parts sent; bytes kept in the tail object are hashed when they lead a part of the next PATCH.
    """

    def __init__(self, uploads: ResumableUploads, row, owner: str, request: domain.UploadRequest) -> None:  # noqa: ANN001
        self.uploads, self.row, self.owner, self.request = uploads, row, owner, request
        self.parts = [UploadedPart(**part) for part in _json(row["parts"])]
        self.content_type: str | None = row["content_type"]
        self.received = row["received"]
        self.digest = (hashlib.sha256() if row["received"] == 0
                       else uploads._running_digest(row["upload_id"], row["received"]))
        self._stored = sum(part.size for part in self.parts)  # bytes in parts S3 acknowledged
        self._sent = self._stored  # ... and in the parts on their way there
        self._in_flight: deque[tuple[asyncio.Task[UploadedPart], PartBuffer]] = deque()
        self._hashed: asyncio.Future[None] | None = None  # the last part's hashing; the next one waits for it
        self._gap = False  # a part failed: the parts behind it can never be recorded
        self._buffer: PartBuffer | None = None  # taken when the first byte for it arrives

    @property
    def buffer(self) -> PartBuffer:
        if self._buffer is None:
            self._buffer = self.uploads.buffers.take(min(self.uploads.part_size, self.row["length"] - self._sent))
        return self._buffer

    @property
    def buffered(self) -> int:
        return self._buffer.size if self._buffer is not None else 0

    @property
    def key(self) -> str:
        return self.row["object_key"]

    async def run(self, body: AsyncIterator[bytes]) -> int:
        try:
            return await self._receive(body)
        except domain.UnsupportedType:
            await self.uploads._discard(self.row)  # nothing of a refused file stays anywhere
            raise
        finally:
            if self._buffer is not None:
                self.uploads.buffers.give_back(self._buffer)
            self._buffer = None

    async def _receive(self, body: AsyncIterator[bytes]) -> int:
        storage, row, length = self.uploads.storage, self.row, self.row["length"]
        if row["tail_size"]:
            self.buffer.fill(memoryview(await storage.get_bytes(tail_key(self.key))))
        disconnected = False
        try:
            try:
                async for chunk in body:
                    if self.received + len(chunk) > length:
                        raise domain.TooLarge("more bytes than Upload-Length announced")
                    self.received += len(chunk)
                    rest = memoryview(chunk)
                    while rest:
                        rest = rest[self.buffer.fill(rest):]
                        if self.content_type is None:
                            self._sniff_if_possible()
                        if self.buffer.full:
                            await self._send_part()
            except ClientDisconnected:
                disconnected = True  # keep what arrived: the client resumes from the offset we record
            if self.received == length:
                if self.content_type is None:
                    self._sniff_if_possible()
                if self.buffered:
                    await self._send_part()
                await self._settle()
                return self.received
            # Unfinished: keep the remainder as a part when S3 allows it, else as the tail object.
            if self.buffered >= MIN_PART_SIZE:
                await self._send_part()
            await self._settle()
        except BaseException:
            await self._settle_quietly()
            raise
        tail = self.buffered
        if tail:
            await storage.put_bytes(tail_key(self.key), bytes(self.buffer.view()))
        await self._record(tail=tail, release=True)
        if self.digest is not None:
            self.uploads._keep_digest(row["upload_id"], self.received, self.digest)
        if disconnected:
            log.info("upload interrupted", upload_id=row["upload_id"], offset=self.received)
        return self.received

    def _sniff_if_possible(self) -> None:
        needed = min(self.row["length"], filetypes.SNIFF_BYTES)
        if self.buffered < needed:  # parts are ≥ 5 MiB, so no part is sent before this point
            return
        sniffed = filetypes.sniff(bytes(self.buffer.view()[:needed]), name=self.row["display_name"])
        domain.check_file_type(self.request, sniffed)
        self.content_type = sniffed.mime

    async def _send_part(self) -> None:
        """Send the current buffer as the next part; with as many parts on their way as allowed, wait for the
        oldest to be stored and record it (its buffer then takes the next bytes)."""
        buffer, number = self.buffer, len(self.parts) + len(self._in_flight) + 1
        previous, self._hashed = self._hashed, asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(self._store(buffer.view(), number, previous, self._hashed))
        self._in_flight.append((task, buffer))
        self._sent += buffer.size
        self._buffer = None
        if len(self._in_flight) >= PARTS_IN_FLIGHT:
            await self._settle_oldest()

    async def _store(self, data: memoryview, number: int, previous: asyncio.Future[None] | None,
                     hashed: asyncio.Future[None]) -> UploadedPart:
        try:
            if previous is not None:
                await previous
            if self.digest is not None:
                await asyncio.to_thread(self.digest.update, data)
        except asyncio.CancelledError:
            hashed.cancel()
            raise
        except BaseException as error:
            hashed.set_exception(error)
            hashed.exception()  # retrieved here: there may be no next part to wait for it
            raise
        hashed.set_result(None)
        return await self.uploads.storage.upload_part(self.key, self.row["s3_upload_id"], number, data)

    async def _settle_oldest(self) -> None:
        """Wait for the oldest part on its way to S3, count it as stored and record the progress."""
        task, buffer = self._in_flight[0]
        try:
            # Shielded: when the request is cancelled, the part's thread still finishes and can be counted.
            part = await asyncio.shield(task)
        except asyncio.CancelledError:
            raise
        except BaseException:
            self._in_flight.popleft()
            self._gap = True
            raise
        self._in_flight.popleft()
        self.parts.append(part)
        self._stored += buffer.size
        self.uploads.buffers.give_back(buffer)
        await self._record()

    async def _settle(self) -> None:
        while self._in_flight:
            await self._settle_oldest()

    async def _settle_quietly(self) -> None:
        """After a failure: let the parts on their way finish (their threads cannot be stopped) and record those
        stored in order, as if parts were stored one by one; a second failure here must not hide the first."""
        if not self._gap:
            with contextlib.suppress(Exception):
                await self._settle()
        while self._in_flight:  # after a part that failed, the ones behind it cannot be recorded
            task, _ = self._in_flight.popleft()
            with contextlib.suppress(Exception):
                await task

    async def _record(self, *, tail: int = 0, release: bool = False) -> None:
        ok = await self.uploads.repo.record_progress(
            self.uploads.pool, self.row["upload_id"], self.owner, received=self._stored + tail, parts=self.parts,
            tail_size=tail, content_type=self.content_type, lease_seconds=LEASE_SECONDS, release=release)
        if not ok:
            raise Locked("the upload's lease was lost")


def _json(value):  # noqa: ANN001, ANN202
    return json.loads(value) if isinstance(value, str) else value
