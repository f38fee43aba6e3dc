"""Object storage on any S3-compatible server (AWS S3, Ceph, MinIO, s3proxy) through the ``minio`` client.

Import ``minio`` names through this package (``from loginless.shared.blobs import S3Error``): importing it first
defers what ``minio`` loads for its admin client, which we never use (see :mod:`loginless.shared.blobs._lazy`).
"""

from loginless.shared.blobs._lazy import defer_minio_admin_crypto

defer_minio_admin_crypto()

from minio.datatypes import Part  # noqa: E402
from minio.error import InvalidResponseError, S3Error  # noqa: E402

from loginless.shared.blobs.store import BlobStore, StoredBlob  # noqa: E402

__all__ = ["BlobStore", "InvalidResponseError", "Part", "S3Error", "StoredBlob"]
