"""Object storage against the real S3-compatible server: bytes and checksums survive the round trip."""

import hashlib
import io
import os
import uuid

import pytest
from minio.error import S3Error

from loginless.shared.blobs import BlobStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def blobs(s3):
    store = BlobStore(s3.url, access_key=s3.access_key, secret_key=s3.secret_key,
                      bucket=f"test-{uuid.uuid4().hex[:12]}")
    await store.ensure_bucket()
    return store


@pytest.mark.parametrize("size", [0, 1, 5 * 1024 * 1024 + 17, 20 * 1024 * 1024 + 3])
async def test_stored_bytes_and_checksum_equal_what_was_sent(blobs, size):
    data = os.urandom(size)
    stored = await blobs.put(f"objects/{size}", io.BytesIO(data), content_type="application/octet-stream")
    assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
    received = b"".join([chunk async for chunk in blobs.read_chunks(f"objects/{size}")])
    assert received == data


async def test_a_wrong_secret_key_is_refused(blobs, s3):
    impostor = BlobStore(s3.url, access_key=s3.access_key, secret_key=s3.secret_key + "x", bucket=blobs.bucket)
    with pytest.raises(S3Error) as refused:
        await impostor.put("nope", io.BytesIO(b"x"), content_type="text/plain", length=1)
    assert refused.value.code in {"SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId"}
