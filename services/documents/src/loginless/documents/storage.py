"""Object storage for documents: the shared :class:`BlobStore` plus the S3 multipart calls resumable uploads need.

A tus upload spans many HTTP requests, possibly on different replicas, so the S3 multipart upload behind it is
driven call by call (create, upload part, complete, abort) with its state in PostgreSQL, rather than through
``put_object``, which needs the whole stream in one process. The ``minio`` client has these calls as internal
methods (its own ``put_object`` uses them); we call them here, in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from prometheus_client import Counter

from loginless.shared.blobs import BlobStore, InvalidResponseError, Part, S3Error
from loginless.shared.errors import DependencyUnavailable

MIN_PART_SIZE = 5 * 1024 * 1024  # S3: every part but the last is at least 5 MiB
# Bytes handed on per read when streaming an object out: large enough that the hop to a worker thread per read
# costs little, small enough that concurrent downloads stay light.
DOWNLOAD_CHUNK = 1024 * 1024

UPLOAD_BUFFERS_FULL = Counter("loginless_documents_upload_buffers_full_total",
                              "Uploads refused with 503 because the process's part buffers were all taken")


class UploadBuffersFull(DependencyUnavailable):
    """The process holds as many upload bytes as it may (DOCUMENTS_UPLOAD_BUFFER_BYTES); nothing was written."""

    problem_type = "upload-buffers-full"
    title = "Too many uploads at once"


@dataclass(frozen=True)
class UploadedPart:
    number: int
    etag: str
    size: int


class PartBuffer:
    """Room for one S3 part, filled in place as the body arrives (no growing, no copy when it is sent)."""

    __slots__ = ("data", "limit", "size")

    def __init__(self, data: mmap.mmap, limit: int) -> None:
        self.data, self.limit, self.size = data, limit, 0

    @property
    def full(self) -> bool:
        return self.size == self.limit

    def fill(self, chunk: memoryview) -> int:
        """Copy as much of ``chunk`` as fits; returns how much that was."""
        taken = min(len(chunk), self.limit - self.size)
        self.data[self.size:self.size + taken] = chunk[:taken]
        self.size += taken
        return taken

    def view(self) -> memoryview:
        return memoryview(self.data)[:self.size]


class PartBuffers:
    """Part-sized buffers, reused from one upload (a guest's PATCH, a staff upload) to the next.

    Fresh memory costs about as much to touch (page faults) as the bytes cost to receive, so a few buffers are
    kept for the next upload. They are anonymous memory maps rather than heap objects: the system hands out their
    pages as they are first written (a small file touches little of its buffer), and one dropped -- more uploads
    at once than are kept -- goes straight back to the system instead of staying in the allocator's heap, so
    resident memory follows the uploads in progress. A buffer's bytes beyond what the current part filled are
    never read.

    The bytes all buffers of the process may hold at once are capped (``budget``, DOCUMENTS_UPLOAD_BUFFER_BYTES):
    an upload reserves its share with ``room`` before it reads a byte, waits up to ``wait_seconds`` for others
    to finish, and otherwise is refused with a 503 and Retry-After -- before anything was written, so a retry
    starts clean. Many uploads at once slow down; none runs the process out of memory.
    """

    def __init__(self, part_size: int, keep: int = 2, *, budget: int = 256 * 1024 * 1024,
                 wait_seconds: float = 5.0) -> None:
        self.part_size, self.keep = part_size, keep
        self.budget, self.wait_seconds = budget, wait_seconds
        self.held = 0  # bytes reserved by uploads in progress
        self._idle: list[mmap.mmap] = []
        self._freed = asyncio.Condition()

    @asynccontextmanager
    async def room(self, size: int) -> AsyncIterator[None]:
        """Reserve ``size`` bytes of the budget for one upload (an upload larger than the whole budget gets all
        of it, alone); ``UploadBuffersFull`` if there is no room within ``wait_seconds``."""
        size = min(size, self.budget)
        async with self._freed:
            try:
                async with asyncio.timeout(self.wait_seconds):
                    await self._freed.wait_for(lambda: self.held + size <= self.budget)
            except TimeoutError:
                UPLOAD_BUFFERS_FULL.inc()
                raise UploadBuffersFull("too many uploads at once; try again shortly",
                                        retry_after=max(1, round(self.wait_seconds))) from None
            self.held += size
        try:
            yield
        finally:
            async with self._freed:
                self.held -= size
                self._freed.notify_all()

    def take(self, limit: int) -> PartBuffer:
        """A buffer that is full at ``limit`` bytes (at most a part)."""
        return PartBuffer(self._idle.pop() if self._idle else mmap.mmap(-1, self.part_size), min(limit, self.part_size))

    def give_back(self, buffer: PartBuffer) -> None:
        if len(self._idle) < self.keep:
            self._idle.append(buffer.data)


class DocumentStorage(BlobStore):
    # -- multipart ---------------------------------------------------------------------------------------

    async def start_multipart(self, key: str, content_type: str = "application/octet-stream") -> str:
        return await self._call(self._client._create_multipart_upload, self.bucket, key,
                                {"Content-Type": content_type})

    async def upload_part(self, key: str, upload_id: str, number: int,
                          data: bytes | bytearray | memoryview) -> UploadedPart:
        """Store one part; S3 refuses it unless it received exactly these bytes.

        The check is S3's own: minio signs the part's SHA-256 into the request over http (S3 answers
        ``XAmzContentSHA256Mismatch`` when the body differs) and sends its ``Content-MD5`` over https
        (``BadDigest``). Comparing the ETag with an MD5 of our own would hash every byte once more for the same
        guarantee -- and an ETag is not the MD5 under every server-side encryption. ``data`` is sent as it is,
        without a copy: do not resize its buffer after the call, the worker thread may still hold a view of it.
        """
        etag = await self._call(self._client._upload_part, self.bucket, key, data, None, upload_id, number)
        return UploadedPart(number=number, etag=etag.strip('"'), size=len(data))

    async def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        await self._call(self._client._complete_multipart_upload, self.bucket, key, upload_id,
                         [Part(part.number, part.etag) for part in parts])

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            await self._call(self._client._abort_multipart_upload, self.bucket, key, upload_id)
        except S3Error as error:
            if error.code != "NoSuchUpload":
                raise

    async def multipart_uploads(self, prefix: str) -> list[str]:
        """Keys with unfinished multipart uploads under ``prefix`` (for tests and tidying up)."""
        try:
            result = await self._call(self._client._list_multipart_uploads, self.bucket, prefix=prefix)
        except InvalidResponseError as error:
            if "501" not in str(error):
                raise
            # s3proxy's filesystem backend lacks ListMultipartUploads; it keeps parts as ".mpus-<id>-<key>-<n>".
            return sorted({key for key in await self.keys(".mpus-") if f"-{prefix}" in key})
        return [upload.object_name for upload in result.uploads]

    # -- small objects and reads ---------------------------------------------------------------------------

    async def put_bytes(self, key: str, data: bytes) -> None:
        import io

        await self._call(self._client.put_object, self.bucket, key, io.BytesIO(data), len(data))

    async def get_bytes(self, key: str) -> bytes:
        response = await self._call(self._client.get_object, self.bucket, key)
        try:
            return await self._call(response.read)
        finally:
            response.close()
            response.release_conn()

    async def size_of(self, key: str) -> int:
        return (await self._call(self._client.stat_object, self.bucket, key)).size

    async def exists(self, key: str) -> bool:
        try:
            await self._call(self._client.stat_object, self.bucket, key)
        except S3Error as error:
            if error.code in {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}:
                return False
            raise
        return True

    async def keys(self, prefix: str) -> list[str]:
        objects = await self._call(lambda: list(self._client.list_objects(self.bucket, prefix=prefix,
                                                                          recursive=True)))
        return [item.object_name for item in objects]

    async def read_range(self, key: str, *, offset: int = 0, length: int = 0,
                         chunk_size: int = DOWNLOAD_CHUNK) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes from ``offset`` (0 = to the end), reading one chunk ahead: the next read from S3
        runs in a worker thread while the caller sends the current chunk. At most two chunks are held."""
        response = await self._call(self._client.get_object, self.bucket, key, offset=offset, length=length)
        chunks: Iterator[bytes] = response.stream(chunk_size)
        ahead = asyncio.ensure_future(self._call(next, chunks, b""))
        try:
            while chunk := await ahead:
                ahead = asyncio.ensure_future(self._call(next, chunks, b""))
                yield chunk
        finally:
            # Let a read in flight finish (at most one chunk) before closing the response under it.
            with contextlib.suppress(Exception):
                await ahead
            response.close()
            response.release_conn()

    async def delete_quietly(self, key: str) -> None:
        try:
            await self.delete(key)
        except S3Error:
            pass
