"""Object storage on any S3-compatible server (AWS S3, Ceph, MinIO, s3proxy) through the ``minio`` client."""

from loginless.shared.blobs.store import BlobStore, StoredBlob

__all__ = ["BlobStore", "StoredBlob"]
