"""A small async face over the ``minio`` client: streamed uploads with a SHA-256 computed on the way through.

The ``minio`` client is synchronous; calls run in worker threads so they never block the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO
from urllib.parse import urlsplit

import urllib3.exceptions
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
                 region: str = "us-east-1", public_endpoint: str | None = None) -> None:
        """``public_endpoint``: S3 as browsers reach it, for presigned URLs (default: ``endpoint``)."""
        self.bucket = bucket
        self._client = _client(endpoint, access_key, secret_key, region)
        # A presigned URL is signed for the host it names, so it is made by a client of the public address. The
        # region is given, so presigning is computation only: minio asks S3 for a bucket's region otherwise.
        self._presigner = (self._client if not public_endpoint or public_endpoint == endpoint
                           else _client(public_endpoint, access_key, secret_key, region))

    async def _call(self, function, *args, **kwargs):  # noqa: ANN001, ANN202
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except (OSError, TimeoutError, urllib3.exceptions.HTTPError) as error:
            # urllib3 (under minio) reports a refused connection or a server gone mid-answer as its own errors.
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

    def presigned_get_url(self, key: str, *, expires: timedelta, response_headers: Mapping[str, str],
                          signed_at: datetime | None = None) -> str:
        """A GET URL for ``key`` on the public endpoint, valid for ``expires`` from ``signed_at`` (default now).

        ``response_headers`` are S3's response overrides (``response-content-disposition``,
        ``response-content-type``, ``response-cache-control``…): they are part of what is signed, so whoever holds
        the URL cannot change them. No network call.
        """
        return self._presigner.presigned_get_object(self.bucket, key, expires=expires,
                                                    response_headers=dict(response_headers), request_date=signed_at)


def _client(endpoint: str, access_key: str, secret_key: str, region: str) -> Minio:
    parts = urlsplit(endpoint)
    return Minio(parts.netloc, access_key=access_key, secret_key=secret_key, secure=parts.scheme == "https",
                 region=region)
