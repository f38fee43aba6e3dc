"""Large bodies stream through the gateway both ways: bytes intact, and never held whole in between.

"Never held whole" is shown by lockstep, not by timing: the guest sends the rest of an upload only after the
service has received its first chunk, and the service sends the rest of a download only after the guest has
received its first chunk. A gateway that buffered a whole body would deadlock both, and the test would time out.
"""

import asyncio
import hashlib

import pytest

from loginless.testkit.fake_services import pattern_bytes

pytestmark = pytest.mark.integration

SIZE = 50 * 1024 * 1024
CHUNK = 256 * 1024
LOCKSTEP_TIMEOUT = 30


def expected_sha256(size: int) -> str:
    digest = hashlib.sha256()
    for offset in range(0, size, CHUNK):
        digest.update(pattern_bytes(offset, min(CHUNK, size - offset)))
    return digest.hexdigest()


async def test_a_50_mb_upload_streams_to_the_service_chunk_by_chunk(gateway):
    gateway.echo.received_first_upload_chunk = asyncio.Event()
    token, link = gateway.links.add_link(action="upload", resource_id="folder_A")

    async def upload_body():
        yield pattern_bytes(0, CHUNK)
        await asyncio.wait_for(gateway.echo.received_first_upload_chunk.wait(), LOCKSTEP_TIMEOUT)
        for offset in range(CHUNK, SIZE, CHUNK):
            yield pattern_bytes(offset, min(CHUNK, SIZE - offset))

    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        response = await http.post(f"/g/{link.link_id}/upload", content=upload_body(),
                                   headers={"cookie": cookie, "content-length": str(SIZE),
                                            "content-type": "application/octet-stream"})
    assert response.status_code == 200, response.text
    assert response.json() == {"sha256": expected_sha256(SIZE), "size": SIZE, "resource_id": "folder_A"}


async def test_a_50_mb_download_streams_to_the_guest_chunk_by_chunk(gateway):
    gateway.echo.guest_received_first_download_chunk = asyncio.Event()
    token, link = gateway.links.add_link(action="view")
    digest, received = hashlib.sha256(), 0
    async with gateway.client() as http:
        cookie = await gateway.enter(http, token)
        async with http.stream("GET", f"/g/{link.link_id}/download", params={"size": SIZE, "chunk": CHUNK},
                               headers={"cookie": cookie}) as response:
            assert response.status_code == 200
            assert response.headers["content-length"] == str(SIZE)
            assert response.headers["cache-control"] == "no-store"
            async for chunk in response.aiter_raw():
                digest.update(chunk)
                received += len(chunk)
                gateway.echo.guest_received_first_download_chunk.set()
    assert received == SIZE
    assert digest.hexdigest() == expected_sha256(SIZE)
