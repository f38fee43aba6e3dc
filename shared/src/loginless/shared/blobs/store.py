"""A small async face over the ``minio`` client: streamed uploads with a SHA-256 computed on the way through.

The ``minio`` client is synchronous; calls run in worker threads so they never block the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO
from urllib.parse import urlsplit

from minio import Minio
from minio.error import S3Error

from loginless.shared.errors import DependencyUnavailable

PART_SIZE = 8 * 1024 * 1024  # multipart upload part size: memory use stays flat whatever the object size


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int
    sha256: str


class _HashingReader:
    """Wraps a readable stream, hashing and counting what passes through."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


class BlobStore:
    def __init__(self, endpoint: str, *, access_key: str, secret_key: str, bucket: str,
                 region: str = "us-east-1") -> None:
        parts = urlsplit(endpoint)
        self.bucket = bucket
        self._client = Minio(parts.netloc, access_key=access_key, secret_key=secret_key,
                             secure=parts.scheme == "https", region=region)

    async def _call(self, function, *args, **kwargs):  # noqa: ANN001, ANN202
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except (OSError, TimeoutError) as error:
            raise DependencyUnavailable("object storage is unavailable", dependency="s3") from error

    async def ensure_bucket(self) -> None:
        if not await self._call(self._client.bucket_exists, self.bucket):
            try:
                await self._call(self._client.make_bucket, self.bucket)
            except S3Error as error:
                if error.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    async def put(self, key: str, stream: BinaryIO, *, content_type: str, length: int = -1) -> StoredBlob:
        """Stream ``stream`` to ``key``; ``length=-1`` (unknown) uploads in parts of ``PART_SIZE``."""
        reader = _HashingReader(stream)
        await self._call(self._client.put_object, self.bucket, key, reader, length,
                         content_type=content_type, part_size=PART_SIZE)
        return StoredBlob(key=key, size=reader.size, sha256=reader.digest.hexdigest())

    async def read_chunks(self, key: str, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        response = await self._call(self._client.get_object, self.bucket, key)
        chunks: Iterator[bytes] = response.stream(chunk_size)
        try:
            while chunk := await self._call(next, chunks, b""):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def delete(self, key: str) -> None:
        await self._call(self._client.remove_object, self.bucket, key)

    async def presigned_download_url(self, key: str, *, expires: timedelta, filename_header: str) -> str:
        return await self._call(
            self._client.presigned_get_object, self.bucket, key, expires=expires,
            response_headers={"response-content-disposition": filename_header},
        )
