"""Benchmark: guest uploads and downloads through gateway → documents → S3, against S3 directly, in the same run.

    python -m loginless.devstack test --infra-only -- uv run python bench/documents.py   (from the repo root)

Needs DATABASE_URL, S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY (the test stack exports them). It starts the
documents API (with in-memory stand-ins for the links service) and a streaming stand-in of the gateway as two
processes of their own, then measures:

- upload MB/s of a tus upload (8 MiB PATCHes, as the upload page sends) through the gateway stand-in, against a
  ``minio`` ``put_object`` of the same bytes straight to S3 (ratio; target ≥ 0.7);
- download MB/s of a guest download streamed through gateway and documents, and of a presigned S3 URL, against a
  ``minio`` ``get_object`` (ratio; target ≥ 0.9);
- peak RSS of the documents and gateway processes during a 1 GiB upload (target: flat, under 100 MB each).

Results print as a table; copy them into docs/benchmarks.md with the date and machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import httpx

MIB = 1024 * 1024
CHUNK = 8 * MIB
API_KEY = "bench-key-" + "x" * 24
TENANT = "bench"
SCHEMA = "documents_bench"
BUCKET = "documents-bench"
DIRECT_BUCKET = "documents-bench-direct"


# ---- the two servers, each run as `python bench/documents.py serve-… PORT` -----------------------------


def serve_documents(port: int) -> None:
    import uvicorn

    from loginless.documents.bootstrap import create_app
    from loginless.documents.fakes import FakeApiKeys, FakeLinks
    from loginless.documents.settings import DocumentsSettings
    from loginless.shared.web.auth import StaffPrincipal

    class BenchSettings(DocumentsSettings):
        @property
        def schema(self) -> str:
            return SCHEMA

    settings = BenchSettings(
        database_url=os.environ["DATABASE_URL"], kafka_bootstrap_servers="127.0.0.1:1",
        s3_endpoint=os.environ["S3_ENDPOINT"], s3_access_key=os.environ["S3_ACCESS_KEY"],
        s3_secret_key=os.environ["S3_SECRET_KEY"], s3_bucket=BUCKET, assertion_public_key=os.environ["BENCH_PUBLIC"],
        max_document_size=4096 * MIB, max_upload_file_size=4096 * MIB, log_level="WARNING")
    keys = {API_KEY: StaffPrincipal(TENANT, "bench")}
    app = create_app(settings, links=FakeLinks(api_keys=keys), api_key_verifier=lambda runtime: FakeApiKeys(keys))
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


def serve_gateway(port: int, upstream: str) -> None:
    """A streaming reverse proxy standing in for the gateway: per request it signs an assertion for the link in
    the path and forwards ``/g/{link}/…`` to ``/guest/…``, bodies streamed both ways."""
    import uvicorn

    from loginless.shared.web.assertion import AssertionSigner, GuestAssertion, GuestRecipient

    signer = AssertionSigner(os.environ["BENCH_PRIVATE"])
    links: dict[str, dict] = {}
    client: list[httpx.AsyncClient] = []
    skip = {b"host", b"connection", b"transfer-encoding", b"keep-alive"}

    async def app(scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/_links":  # the bench registers the links it created
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            claims = json.loads(body)
            links[claims["link_id"]] = claims
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        match = re.match(r"^/g/([A-Za-z0-9_]+)(/.*)?$", scope["path"])
        if match is None or match.group(1) not in links:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        claims = links[match.group(1)]
        assertion = signer.sign(GuestAssertion(
            **claims, recipient=GuestRecipient(), link_expires_at=datetime.now(UTC) + timedelta(days=1),
            audience="documents"))
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in skip]
        headers += [(b"x-loginless-assertion", assertion.encode()),
                    (b"x-forwarded-prefix", f"/g/{claims['link_id']}".encode()), (b"x-forwarded-for", b"127.0.0.1")]
        if not client:
            client.append(httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=50)))

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message.get("body"):
                    yield message["body"]
                if not message.get("more_body"):
                    return

        url = f"{upstream}/guest{match.group(2) or '/'}"
        has_body = scope["method"] in {"POST", "PATCH"}
        request = client[0].build_request(scope["method"], url, headers=headers, content=body() if has_body else None)
        response = await client[0].send(request, stream=True)
        try:
            out = [(k.encode(), v.encode()) for k, v in response.headers.items() if k.encode() not in skip]
            await send({"type": "http.response.start", "status": response.status_code, "headers": out})
            async for chunk in response.aiter_raw(256 * 1024):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


# ---- the measurements -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pattern(size: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """``size`` bytes of a PDF-looking file, made on the fly so the client holds one chunk at a time."""
    block = os.urandom(chunk)
    sent = 0
    while sent < size:
        piece = block[: min(chunk, size - sent)]
        if sent == 0:
            piece = b"%PDF-1.7\n" + piece[9:]
        sent += len(piece)
        yield piece


async def async_pattern(size: int) -> AsyncIterator[bytes]:
    for chunk in pattern(size):
        yield chunk


class PatternReader(io.RawIOBase):
    """The same bytes as a file-like object, for minio's ``put_object``."""

    def __init__(self, size: int) -> None:
        self._chunks, self._buffer = pattern(size), b""

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while len(self._buffer) < n or n < 0:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                break
        data, self._buffer = (self._buffer, b"") if n < 0 else (self._buffer[:n], self._buffer[n:])
        return data


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not start")


class PeakRss:
    """Samples a process's resident memory every 20 ms in a thread; ``baseline`` is the process idle after start."""

    def __init__(self, pid: int, baseline: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.baseline = baseline
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class DirectGuest(httpx.Auth):
    """Calls the documents service's guest API without the gateway, signing the assertion the gateway would."""

    def __init__(self, private_key: str, claims: dict) -> None:
        from loginless.shared.web.assertion import AssertionSigner

        self.signer, self.claims = AssertionSigner(private_key), claims

    def auth_flow(self, request: httpx.Request):  # noqa: ANN201
        from loginless.shared.web.assertion import GuestAssertion, GuestRecipient

        request.headers["x-loginless-assertion"] = self.signer.sign(GuestAssertion(
            **self.claims, recipient=GuestRecipient(), link_expires_at=datetime.now(UTC) + timedelta(days=1),
            audience="documents"))
        request.headers["x-forwarded-prefix"] = "/guest"  # so Location points back at /guest/uploads/…
        yield request


async def tus_upload(http: httpx.AsyncClient, base: str, size: int) -> None:
    metadata = "filename " + base64.b64encode(b"bench.pdf").decode()
    created = await http.post(f"{base}/uploads", headers={"tus-resumable": "1.0.0", "upload-length": str(size),
                                                          "upload-metadata": metadata})
    assert created.status_code == 201, created.text
    location = urljoin(base, created.headers["location"])  # a path under the gateway's prefix
    offset = 0
    for chunk in pattern(size):
        response = await http.patch(location, content=chunk, headers={
            "tus-resumable": "1.0.0", "upload-offset": str(offset), "content-type": "application/offset+octet-stream"})
        assert response.status_code == 204, response.text
        offset = int(response.headers["upload-offset"])


DOWNLOADER = None


def read_all(url: str, headers: dict[str, str] | None = None) -> int:
    """GET ``url`` and count the bytes, with urllib3 -- the HTTP client minio's own GET uses, so every download
    in the table is read the same way and only the path differs."""
    import urllib3

    global DOWNLOADER
    DOWNLOADER = DOWNLOADER or urllib3.PoolManager()
    response = DOWNLOADER.request("GET", url, headers=headers, preload_content=False)
    try:
        assert response.status == 200, response.status
        return sum(len(chunk) for chunk in response.stream(1024 * 1024))
    finally:
        response.release_conn()


async def timed_download(url: str, headers: dict[str, str] | None = None, *, size: int) -> float:
    started = time.perf_counter()
    assert await asyncio.to_thread(read_all, url, headers) == size
    return time.perf_counter() - started


def best_rate(size: int, timings: list[float]) -> float:
    return size / MIB / min(timings)


async def run(size_mb: int, rss_mb: int, repeats: int) -> None:
    from minio import Minio

    from loginless.shared.web.assertion import generate_key_pair

    private, public = generate_key_pair()
    env = {**os.environ, "BENCH_PRIVATE": private, "BENCH_PUBLIC": public, "PYTHONUNBUFFERED": "1"}
    documents_port, gateway_port = free_port(), free_port()
    script = str(Path(__file__).resolve())
    documents = subprocess.Popen([sys.executable, script, "serve-documents", str(documents_port)], env=env)
    gateway = subprocess.Popen([sys.executable, script, "serve-gateway", str(gateway_port),
                                f"http://127.0.0.1:{documents_port}"], env=env)
    documents_url, gateway_url = f"http://127.0.0.1:{documents_port}", f"http://127.0.0.1:{gateway_port}"
    try:
        wait_ready(f"{documents_url}/health/live", documents)
        wait_ready(f"{gateway_url}/nothing", gateway)
        import psutil

        idle = {process.pid: psutil.Process(process.pid).memory_info().rss for process in (documents, gateway)}
        endpoint = os.environ["S3_ENDPOINT"]
        s3 = Minio(endpoint.split("://", 1)[1], access_key=os.environ["S3_ACCESS_KEY"],
                   secret_key=os.environ["S3_SECRET_KEY"], secure=endpoint.startswith("https"))
        if not s3.bucket_exists(DIRECT_BUCKET):
            s3.make_bucket(DIRECT_BUCKET)
        size = size_mb * MIB
        staff = httpx.AsyncClient(base_url=documents_url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=600)
        guest = httpx.AsyncClient(timeout=600)
        account = (await staff.post("/v1/accounts", json={"name": "Bench", "kind": "guest"})).json()
        folder = (await staff.post(f"/v1/accounts/{account['account_id']}/folders", json={"name": "in"})).json()
        request = (await staff.post("/v1/upload-requests", json={
            "folder_id": folder["folder_id"], "recipients": [{"email": "bench@example.test"}],
            "max_file_size": 4096 * MIB, "max_files": 1000})).json()
        upload_link = request["links"][0]["link_id"]
        await guest.post(f"{gateway_url}/_links", json={"link_id": upload_link, "tenant_id": TENANT,
                                                        "action": "upload",
                                                        "resource_id": request["upload_request_id"]})
        base = f"{gateway_url}/g/{upload_link}"

        def direct_put() -> float:
            started = time.perf_counter()
            s3.put_object(DIRECT_BUCKET, f"direct-{secrets.token_hex(4)}", PatternReader(size), size,
                          part_size=CHUNK)
            return time.perf_counter() - started

        upload_claims = {"link_id": upload_link, "tenant_id": TENANT, "action": "upload",
                         "resource_id": request["upload_request_id"]}
        service_only = httpx.AsyncClient(timeout=600, auth=DirectGuest(private, upload_claims))
        direct_up, through_up, service_up, three_up = [], [], [], []
        for _ in range(repeats):
            started = time.perf_counter()  # three files of a third each at once, as the upload page sends them
            await asyncio.gather(*(tus_upload(guest, base, size // 3) for _ in range(3)))
            three_up.append(time.perf_counter() - started)
            direct_up.append(await asyncio.to_thread(direct_put))
            started = time.perf_counter()
            await tus_upload(guest, base, size)
            through_up.append(time.perf_counter() - started)
            started = time.perf_counter()
            await tus_upload(service_only, f"{documents_url}/guest", size)
            service_up.append(time.perf_counter() - started)

        # Downloads: a staff document of the same size, shared with one guest.
        document = (await staff.post("/v1/documents", params={"account_id": account["account_id"],
                                                              "name": "bench.pdf"},
                                     content=async_pattern(size), timeout=600)).json()
        share = (await staff.post(f"/v1/documents/{document['document_id']}/shares",
                                  json={"recipients": [{"email": "bench@example.test"}]})).json()
        view_link = share["links"][0]["link_id"]
        await guest.post(f"{gateway_url}/_links", json={"link_id": view_link, "tenant_id": TENANT, "action": "view",
                                                        "resource_id": share["share_id"]})
        key = f"tenants/{TENANT}/documents/{document['document_id']}"
        presigned = s3.presigned_get_object(BUCKET, key, expires=timedelta(minutes=10))

        def direct_get() -> float:
            started = time.perf_counter()
            response = s3.get_object(BUCKET, key)
            try:
                for _ in response.stream(1024 * 1024):
                    pass
            finally:
                response.close()
                response.release_conn()
            return time.perf_counter() - started

        view_guest = DirectGuest(private, {"link_id": view_link, "tenant_id": TENANT, "action": "view",
                                           "resource_id": share["share_id"]})
        direct_down, through_down, presigned_down, service_down = [], [], [], []
        for _ in range(repeats):
            direct_down.append(await asyncio.to_thread(direct_get))
            through_down.append(await timed_download(f"{gateway_url}/g/{view_link}/download", size=size))
            signed = next(view_guest.auth_flow(httpx.Request("GET", documents_url))).headers
            service_down.append(await timed_download(
                f"{documents_url}/guest/download", {"x-loginless-assertion": signed["x-loginless-assertion"]},
                size=size))
            presigned_down.append(await timed_download(presigned, size=size))

        # Memory: one large upload through the stack, resident memory sampled all along.
        with PeakRss(documents.pid, idle[documents.pid]) as documents_rss, \
                PeakRss(gateway.pid, idle[gateway.pid]) as gateway_rss:
            await tus_upload(guest, base, rss_mb * MIB)

        def row(label: str, rate: float, baseline: float | None = None, target: str = "") -> None:
            ratio = f"{rate / baseline:5.2f}" if baseline else "     "
            print(f"  {label:<52} {rate:8.1f} MB/s   ratio {ratio}  {target}")

        up_base, down_base = best_rate(size, direct_up), best_rate(size, direct_down)
        print(f"\ndocuments bench: {size_mb} MiB payload, best of {repeats}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC,"
              f" {os.cpu_count()} cores")
        print("upload")
        row("direct S3 put_object (baseline)", up_base)
        row("tus through gateway stand-in → documents → S3", best_rate(size, through_up), up_base, "(target ≥ 0.7)")
        row("tus straight to documents → S3 (no gateway hop)", best_rate(size, service_up), up_base)
        row("3 files at once through the gateway stand-in (total)", best_rate(size // 3 * 3, three_up), up_base)
        print("download")
        row("direct S3 get_object (baseline)", down_base)
        row("streamed through gateway stand-in → documents", best_rate(size, through_down), down_base,
            "(target ≥ 0.9)")
        row("streamed by documents (no gateway hop)", best_rate(size, service_down), down_base)
        row("presigned S3 URL (client → S3)", best_rate(size, presigned_down), down_base)
        print(f"memory: resident set size idle after start → peak during a {rss_mb} MiB upload")
        for name, sample in (("documents", documents_rss), ("gateway stand-in", gateway_rss)):
            print(f"  {name:<20} {sample.baseline / MIB:6.1f} MB → {sample.peak / MIB:6.1f} MB"
                  f"  (+{(sample.peak - sample.baseline) / MIB:.1f} MB; target: flat, < 100 MB)")
        await staff.aclose()
        await guest.aclose()
        await service_only.aclose()
    finally:
        for process in (gateway, documents):
            process.terminate()
            process.wait(timeout=20)
        await drop_schema()


async def drop_schema() -> None:
    import asyncpg

    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("role", nargs="?", default="bench", choices=["bench", "serve-documents", "serve-gateway"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--size-mb", type=int, default=256, help="payload of the throughput runs")
    parser.add_argument("--rss-mb", type=int, default=1024, help="size of the upload during which memory is sampled")
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    if options.role == "serve-documents":
        serve_documents(int(options.args[0]))
    elif options.role == "serve-gateway":
        serve_gateway(int(options.args[0]), options.args[1])
    else:
        asyncio.run(run(options.size_mb, options.rss_mb, options.repeats))


if __name__ == "__main__":
    main()

