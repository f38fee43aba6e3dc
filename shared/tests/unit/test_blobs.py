"""What the object store turns S3 trouble into: a 503 the caller can show, whichever layer noticed it."""

import pytest
import urllib3.exceptions

from loginless.shared.blobs import BlobStore
from loginless.shared.errors import DependencyUnavailable

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("failure", [
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    urllib3.exceptions.MaxRetryError(None, "/bucket", reason="connection refused"),  # what minio lets through
    urllib3.exceptions.ProtocolError("Connection aborted."),
])
async def test_s3_unreachable_is_dependency_unavailable(failure):
    store = BlobStore("http://127.0.0.1:9", access_key="k", secret_key="s", bucket="b")

    def call() -> None:
        raise failure

    with pytest.raises(DependencyUnavailable) as raised:
        await store._call(call)
    assert raised.value.extra.get("dependency") == "s3"


async def test_other_errors_are_not_disguised_as_an_outage():
    store = BlobStore("http://127.0.0.1:9", access_key="k", secret_key="s", bucket="b")

    def call() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await store._call(call)
