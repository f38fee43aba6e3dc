"""Benchmark: guest uploads and downloads through gateway → documents → S3, against S3 directly, in the same run.

    python -m loginless.devstack test --infra-only -- uv run python bench/documents.py   (from the repo root)

Needs DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY (the test stack exports
them). It starts processes of its own:

- the links service, ``python -m loginless.links api`` with a tenant and its API key (``ensure-tenant``), which
  issues the links of the bench's upload request and share;
- the documents API, ``python -m loginless.documents api``: exactly what ``make run`` starts; a second one with
  ``DOCUMENTS_DOWNLOAD_DELIVERY=stream``, on the same schema and bucket;
- the real gateway, ``python -m loginless.gateway api`` (after ``migrate``), its read model seeded with a view link
  and an upload link whose routes point at the first documents process, guests presenting its signed cookie; a
  second gateway routing the same links to the stream-delivery documents process;

It then measures, best of ``--repeats`` (the paths alternate, so a noisy neighbour hurts each alike):

- upload MB/s of one tus upload through gateway → documents → S3, against a ``minio`` ``put_object`` of the same
  bytes straight to S3 with 8 MiB parts, three in parallel (ratio; target ≥ 0.7). The client sends what the upload
  page sends: PATCHes of the page's tus ``chunkSize`` (read from the page itself, ``data-chunk-size``; 60 MiB by
  default, ``DOCUMENTS_UPLOAD_CHUNK_SIZE``), each body streamed with its ``Content-Length``, the next PATCH sent
  when the last is answered, as tus-js-client does; ``--patch-mb`` sends another size instead;
- the same upload in PATCHes of one S3 part (5 MiB), straight to documents (no gateway hop), and three files of a
  third each at once (the page uploads up to three files in parallel);
- download MB/s of a guest download in both deliveries, against a ``minio`` ``get_object`` (ratio; target ≥ 0.9):
  ``presigned`` (the default: the gateway answers the guest's GET with the documents service's 303, the client
  follows it to S3) and ``stream`` (``DOCUMENTS_DOWNLOAD_DELIVERY=stream``: a second documents process with that
  setting, behind a second gateway process routing to it), plus the stream straight from documents and a presigned
  URL fetched on its own. Every download is read with urllib3, the client ``minio`` uses, so only the path
  differs. The "download" row of the summary is the default delivery;
- CPU seconds per GiB moved of the documents and gateway processes on each path (less moved than MB/s by
  neighbours on a shared machine, though not unmoved);
- resident memory of both processes idle and at peak during a large upload through the stack (``--rss-mb``;
  target: flat, under 100 MB each).

Every process gets the environment ``make run`` gives it (``loginless.devstack.services.PROCESS_ENVIRONMENT``,
which sets ``MALLOC_ARENA_MAX``), so what is measured is what runs.

Results print as a table; copy them into docs/benchmarks.md with the date and machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import httpx
from servers import (
    free_port,
    gateway_environment,
    guest_cookie,
    links_environment,
    process_environment,
    seed_link,
    start_gateway_worker,
    wait_until_up,
)

MIB = 1024 * 1024
GIB = 1024 * MIB
PIECE = 1024 * 1024  # what the client hands its HTTP library at a time
PART_PATCH = 5 * MIB  # one S3 part of the documents service's default size
API_KEY = "ll_bench_" + "x" * 43  # shaped as links makes them
TENANT = "bench"
SCHEMA = "documents_bench"
LINKS_SCHEMA = "links_bench"
INTERNAL_SECRET = "bench-internal-secret"
BUCKET = "documents-bench"
DIRECT_BUCKET = "documents-bench-direct"


def documents_environment(port: int, public_key: str, links_url: str, delivery: str = "presigned",
                          clamd_address: str = "") -> dict[str, str]:
    # Without --clamd the uploads are not scanned: the path measured is ours; the scan costs what clamd takes.
    scanning = {"DOCUMENTS_SCANNER": "clamd", "DOCUMENTS_CLAMD_ADDRESS": clamd_address} if clamd_address else {
        "DOCUMENTS_SCANNER": "none"}
    return {
        **process_environment(),
        **scanning,
        "DOCUMENTS_DOWNLOAD_DELIVERY": delivery,
        "DOCUMENTS_DATABASE_URL": os.environ["DATABASE_URL"],
        "DOCUMENTS_DATABASE_SCHEMA": SCHEMA,
        "DOCUMENTS_KAFKA_BOOTSTRAP_SERVERS": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "DOCUMENTS_HTTP_PORT": str(port),
        "DOCUMENTS_S3_ENDPOINT": os.environ["S3_ENDPOINT"],
        "DOCUMENTS_S3_ACCESS_KEY": os.environ["S3_ACCESS_KEY"],
        "DOCUMENTS_S3_SECRET_KEY": os.environ["S3_SECRET_KEY"],
        "DOCUMENTS_S3_BUCKET": BUCKET,
        "DOCUMENTS_ASSERTION_PUBLIC_KEY": public_key,
        "DOCUMENTS_LINKS_URL": links_url,
        "DOCUMENTS_INTERNAL_API_SECRET": INTERNAL_SECRET,
        "DOCUMENTS_MAX_DOCUMENT_SIZE": str(16 * GIB),
        "DOCUMENTS_MAX_UPLOAD_FILE_SIZE": str(16 * GIB),
        "DOCUMENTS_LOG_LEVEL": "INFO",  # as in production
    }


# ---- the bytes ------------------------------------------------------------------------------------------------


_BLOCK = b""  # made on first use: the documents server runs this module too, and should not hold it


def pattern(size: int, start: int = 0) -> Iterator[bytes]:
    """Bytes ``start`` to ``size`` of a PDF-looking file, made on the fly one piece at a time."""
    global _BLOCK
    _BLOCK = _BLOCK or os.urandom(PIECE)
    position = start
    while position < size:
        piece = _BLOCK[: min(PIECE, size - position)]
        if position == 0:
            piece = b"%PDF-1.7\n" + piece[9:]
        position += len(piece)
        yield piece


async def async_pattern(size: int, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
    for piece in pattern(end if end is not None else size, start):
        yield piece


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


# ---- the clients ----------------------------------------------------------------------------------------------


class DirectGuest(httpx.Auth):
    """Calls the documents service's guest API without the gateway, signing the assertion the gateway would."""

    def __init__(self, private_key: str, claims: dict) -> None:
        from loginless.shared.web.assertion import AssertionSigner

        self.signer, self.claims = AssertionSigner(private_key), claims

    def assertion(self) -> str:
        from loginless.shared.web.assertion import GuestAssertion, GuestRecipient

        return self.signer.sign(GuestAssertion(
            **self.claims, recipient=GuestRecipient(), link_expires_at=datetime.now(UTC) + timedelta(days=1),
            audience="documents"))

    def auth_flow(self, request: httpx.Request):  # noqa: ANN201
        request.headers["x-loginless-assertion"] = self.assertion()
        request.headers["x-forwarded-prefix"] = "/guest"  # so Location points back at /guest/uploads/…
        yield request


async def tus_upload(http: httpx.AsyncClient, base: str, size: int, patch_size: int) -> None:
    """A tus upload as tus-js-client makes it: create, then PATCHes of ``patch_size`` bytes at the server's offset,
    each body streamed with its Content-Length (a browser sends a slice of the File)."""
    metadata = "filename " + base64.b64encode(b"bench.pdf").decode()
    created = await http.post(f"{base}/uploads", headers={"tus-resumable": "1.0.0", "upload-length": str(size),
                                                          "upload-metadata": metadata})
    assert created.status_code == 201, created.text
    location = urljoin(base + "/", created.headers["location"])  # a path under the gateway's prefix
    offset = 0
    while offset < size:
        end = min(offset + patch_size, size)
        response = await http.patch(location, content=async_pattern(size, offset, end), headers={
            "tus-resumable": "1.0.0", "upload-offset": str(offset), "content-length": str(end - offset),
            "content-type": "application/offset+octet-stream"})
        assert response.status_code == 204, response.text
        offset = int(response.headers["upload-offset"])
        assert offset == end, (offset, end)


_DOWNLOADER = None


def _downloader():  # noqa: ANN202
    import urllib3

    global _DOWNLOADER
    _DOWNLOADER = _DOWNLOADER or urllib3.PoolManager()
    return _DOWNLOADER


def read_all(url: str, headers: dict[str, str] | None = None) -> int:
    """GET ``url`` and count the bytes, with urllib3 -- the HTTP client minio's own GET uses, so every download
    in the table is read the same way and only the path differs."""
    response = _downloader().request("GET", url, headers=headers, preload_content=False, redirect=False)
    try:
        assert response.status == 200, response.status
        return sum(len(chunk) for chunk in response.stream(1024 * 1024))
    finally:
        response.release_conn()


def follow_to_s3(url: str, headers: dict[str, str]) -> int:
    """A guest's download in the presigned delivery, as a browser makes it: GET the gateway's URL, follow the 303
    to S3 (without the guest's cookie, which is for the gateway's link path only) and read the bytes there."""
    response = _downloader().request("GET", url, headers=headers, redirect=False)
    assert response.status == 303, (response.status, response.data[:300])
    return read_all(response.headers["location"])


# ---- measuring ------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


@dataclass
class Transfer:
    """One way of moving the bytes: its timings, and the CPU our processes spent on it."""

    label: str
    size: int
    target: str = ""
    through: tuple[str, ...] = ("documents", "gateway")  # our processes on the path
    seconds: list[float] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.size / MIB / min(self.seconds)

    def cpu_per_gib(self, name: str) -> float | None:
        spent = self.cpu.get(name)
        return sum(spent) / len(spent) / (self.size / GIB) if spent else None


class Meter:
    def __init__(self, processes: dict[str, int]) -> None:
        self.processes = processes

    async def time(self, path: Transfer, work: Callable[[], Awaitable[object]]) -> None:
        before = {name: cpu_seconds(pid) for name, pid in self.processes.items()}
        started = time.perf_counter()
        await work()
        path.seconds.append(time.perf_counter() - started)
        for name, pid in self.processes.items():
            path.cpu.setdefault(name, []).append(cpu_seconds(pid) - before[name])


class PeakRss:
    """Samples a process's resident memory every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def start(self) -> PeakRss:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()

    def __enter__(self) -> PeakRss:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rss(pid: int) -> int:
    import psutil

    return psutil.Process(pid).memory_info().rss


# ---- the run --------------------------------------------------------------------------------------------------


async def run(options: argparse.Namespace) -> None:
    from minio import Minio

    from loginless.shared.web.assertion import generate_key_pair

    endpoint = os.environ["S3_ENDPOINT"]
    s3 = Minio(endpoint.split("://", 1)[1], access_key=os.environ["S3_ACCESS_KEY"],
               secret_key=os.environ["S3_SECRET_KEY"], secure=endpoint.startswith("https"))
    private, public = generate_key_pair()
    documents_port, gateway_port = free_port(), free_port()
    stream_documents_port, stream_gateway_port = free_port(), free_port()
    logs = Path(tempfile.mkdtemp(prefix="bench-documents-"))
    gateway_env = gateway_environment(gateway_port, private, {"documents": f"http://127.0.0.1:{documents_port}"})
    migrated = subprocess.run([sys.executable, "-m", "loginless.gateway", "migrate"], env=gateway_env,
                              capture_output=True, text=True)
    if migrated.returncode:
        raise SystemExit(f"gateway migrate failed:\n{migrated.stdout}{migrated.stderr}")

    def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen(command, env=env, stdout=(logs / f"{name}.log").open("wb"), stderr=subprocess.STDOUT)

    links_port = free_port()
    links_env = links_environment(links_port, public_url=f"http://127.0.0.1:{gateway_port}", schema=LINKS_SCHEMA,
                                  internal_secret=INTERNAL_SECRET)
    ensured = subprocess.run([sys.executable, "-m", "loginless.links", "ensure-tenant", "--tenant-id", TENANT,
                              "--name", "Bench Firm", "--api-key", API_KEY], env=links_env, capture_output=True,
                             text=True)
    if ensured.returncode:
        raise SystemExit(f"links ensure-tenant failed:\n{ensured.stdout}{ensured.stderr}")
    links = start("links", [sys.executable, "-m", "loginless.links", "api"], links_env)
    links_url = f"http://127.0.0.1:{links_port}"
    documents = start("documents", [sys.executable, "-m", "loginless.documents", "api"],
                      documents_environment(documents_port, public, links_url, clamd_address=options.clamd))
    gateway = start("gateway", [sys.executable, "-m", "loginless.gateway", "api"], gateway_env)
    gateway_worker = start_gateway_worker(gateway_env, logs / "gateway-worker.log")  # for both gateways' read model
    # The stream delivery: a documents process with DOCUMENTS_DOWNLOAD_DELIVERY=stream (same schema and bucket), and
    # a gateway routing guests to it; the same read model, so the same links and cookies work on both.
    stream_documents = start("documents-stream", [sys.executable, "-m", "loginless.documents", "api"],
                             documents_environment(stream_documents_port, public, links_url, delivery="stream",
                                                   clamd_address=options.clamd))
    stream_gateway = start("gateway-stream", [sys.executable, "-m", "loginless.gateway", "api"],
                           gateway_environment(stream_gateway_port, private,
                                               {"documents": f"http://127.0.0.1:{stream_documents_port}"}))
    processes = (links, gateway, gateway_worker, documents, stream_gateway, stream_documents)
    documents_url, gateway_url = f"http://127.0.0.1:{documents_port}", f"http://127.0.0.1:{gateway_port}"
    stream_documents_url = f"http://127.0.0.1:{stream_documents_port}"
    stream_gateway_url = f"http://127.0.0.1:{stream_gateway_port}"
    run_peaks: dict[str, PeakRss] = {}
    try:
        wait_until_up(f"{links_url}/health/live", links)
        wait_until_up(f"{documents_url}/health/live", documents)
        wait_until_up(f"{gateway_url}/health/live", gateway)
        wait_until_up(f"{stream_documents_url}/health/live", stream_documents)
        wait_until_up(f"{stream_gateway_url}/health/live", stream_gateway)
        idle = {process.pid: rss(process.pid) for process in (documents, gateway)}
        run_peaks.update(documents=PeakRss(documents.pid).start(), gateway=PeakRss(gateway.pid).start())
        meter = Meter({"documents": documents.pid, "gateway": gateway.pid})
        stream_meter = Meter({"documents": stream_documents.pid, "gateway": stream_gateway.pid})

        if not s3.bucket_exists(DIRECT_BUCKET):
            s3.make_bucket(DIRECT_BUCKET)
        size = options.size_mb * MIB
        staff = httpx.AsyncClient(base_url=documents_url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=600)
        account = (await staff.post("/v1/accounts", json={"name": "Bench", "kind": "guest"})).json()
        folder = (await staff.post(f"/v1/accounts/{account['account_id']}/folders", json={"name": "in"})).json()
        request = (await staff.post("/v1/upload-requests", json={
            "folder_id": folder["folder_id"], "recipients": [{"email": "bench@example.test"}],
            "max_file_size": 16 * GIB, "max_files": 1000})).json()
        upload_link = request["links"][0]["link_id"]
        await seed_link(upload_link, tenant_id=TENANT, action="upload", resource_id=request["upload_request_id"])
        uploader = httpx.AsyncClient(timeout=600, headers={"cookie": guest_cookie(upload_link)})
        base = f"{gateway_url}/g/{upload_link}"

        page = await uploader.get(f"{base}/")
        assert page.status_code == 200, (page.status_code, page.text[:500])
        page_chunk = int(re.search(r'data-chunk-size="(\d+)"', page.text).group(1))
        patch_size = options.patch_mb * MIB if options.patch_mb else page_chunk

        # Memory first, while the processes have done nothing else: one large upload through the stack, resident
        # memory sampled all along. What later runs (downloads, uploads at once) leave behind shows in the peak
        # over the whole run.
        with PeakRss(documents.pid) as documents_rss, PeakRss(gateway.pid) as gateway_rss:
            await tus_upload(uploader, base, options.rss_mb * MIB, patch_size)

        def direct_put() -> None:
            s3.put_object(DIRECT_BUCKET, f"direct-{secrets.token_hex(4)}", PatternReader(size), size,
                          part_size=8 * MIB)

        upload_claims = {"link_id": upload_link, "tenant_id": TENANT, "action": "upload",
                         "resource_id": request["upload_request_id"]}
        service_only = httpx.AsyncClient(timeout=600, auth=DirectGuest(private, upload_claims))
        third = size // 3
        direct_up = Transfer("direct S3 put_object (baseline)", size)
        through_up = Transfer("tus through gateway → documents → S3", size, "(target ≥ 0.7)")
        one_part_up = Transfer(f"  the same, PATCHes of one part ({PART_PATCH // MIB} MiB)", size)
        service_up = Transfer("tus straight to documents → S3 (no gateway hop)", size, through=("documents",))
        three_up = Transfer("3 files at once through the gateway (total)", third * 3)
        for _ in range(options.repeats):  # alternating, so a noisy neighbour hurts every path alike
            await meter.time(direct_up, lambda: asyncio.to_thread(direct_put))
            await meter.time(through_up, lambda: tus_upload(uploader, base, size, patch_size))
            await meter.time(one_part_up, lambda: tus_upload(uploader, base, size, PART_PATCH))
            await meter.time(service_up, lambda: tus_upload(service_only, f"{documents_url}/guest", size, patch_size))
            await meter.time(three_up, lambda: asyncio.gather(
                *(tus_upload(uploader, base, third, patch_size) for _ in range(3))))

        # Downloads: a staff document of the same size, shared with one guest.
        document = (await staff.post("/v1/documents", params={"account_id": account["account_id"],
                                                              "name": "bench.pdf"},
                                     content=async_pattern(size), timeout=600)).json()
        share = (await staff.post(f"/v1/documents/{document['document_id']}/shares",
                                  json={"recipients": [{"email": "bench@example.test"}]})).json()
        view_link = share["links"][0]["link_id"]
        await seed_link(view_link, tenant_id=TENANT, action="view", resource_id=share["share_id"])
        key = f"tenants/{TENANT}/documents/{document['document_id']}"
        presigned = s3.presigned_get_object(BUCKET, key, expires=timedelta(minutes=10))

        def direct_get() -> None:
            response = s3.get_object(BUCKET, key)
            try:
                assert sum(len(chunk) for chunk in response.stream(1024 * 1024)) == size
            finally:
                response.close()
                response.release_conn()

        def download(read: Callable[[str, dict[str, str]], int], url: str,
                     headers: dict[str, str]) -> Callable[[], Awaitable[None]]:
            async def work() -> None:
                assert await asyncio.to_thread(read, url, headers) == size
            return work

        viewer = DirectGuest(private, {"link_id": view_link, "tenant_id": TENANT, "action": "view",
                                       "resource_id": share["share_id"]})
        guest = {"cookie": guest_cookie(view_link)}
        direct_down = Transfer("direct S3 get_object (baseline)", size)
        presigned_via_gateway = Transfer("presigned (default): gateway 303 → S3", size, "(target ≥ 0.9)")
        stream_via_gateway = Transfer("stream: through gateway → documents", size, "(target ≥ 0.9)")
        service_down = Transfer("  stream: by documents alone (no gateway hop)", size, through=("documents",))
        presigned_down = Transfer("  presigned URL alone (no gateway round trip)", size, through=())
        for _ in range(options.repeats):
            await meter.time(direct_down, lambda: asyncio.to_thread(direct_get))
            await meter.time(presigned_via_gateway,
                             download(follow_to_s3, f"{gateway_url}/g/{view_link}/download", guest))
            await stream_meter.time(stream_via_gateway,
                                    download(read_all, f"{stream_gateway_url}/g/{view_link}/download", guest))
            await stream_meter.time(service_down, download(read_all, f"{stream_documents_url}/guest/download",
                                                           {"x-loginless-assertion": viewer.assertion()}))
            await meter.time(presigned_down, download(read_all, presigned, {}))

        whole_run = {name: sampler.peak for name, sampler in run_peaks.items()}

        def row(path: Transfer, baseline: Transfer | None = None) -> None:
            ratio = f"{path.rate / baseline.rate:5.2f}" if baseline else "     "
            # Only the processes a path goes through: the others' idle ticks are not its cost.
            cpu = "  ".join(f"{name} {spent:4.2f}" for name in ("documents", "gateway")
                            if baseline and name in path.through and (spent := path.cpu_per_gib(name)) is not None)
            print(f"  {path.label:<50} {path.rate:7.1f} MB/s  ratio {ratio}  {path.target:<15} {cpu}")

        print(f"\ndocuments bench: {options.size_mb} MiB payload, best of {options.repeats},"
              f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores;"
              f" tus PATCHes of {patch_size / MIB:g} MiB (the upload page's chunk size: {page_chunk / MIB:g} MiB)")
        print("  (the last column: CPU seconds per GiB moved, mean over the runs, of our processes on the path)")
        print("upload")
        for path in (direct_up, through_up, one_part_up, service_up, three_up):
            row(path, None if path is direct_up else direct_up)
        print("download (DOCUMENTS_DOWNLOAD_DELIVERY: presigned is the default, stream the alternative)")
        for path in (direct_down, presigned_via_gateway, stream_via_gateway, service_down, presigned_down):
            row(path, None if path is direct_down else direct_down)
        print(f"memory: resident set size idle after start → peak during a {options.rss_mb} MiB upload (target: flat,"
              " < 100 MB); peak over the whole run")
        for name, process, sample in (("documents", documents, documents_rss), ("gateway", gateway, gateway_rss)):
            print(f"  {name:<12} {idle[process.pid] / MIB:6.1f} MB → {sample.peak / MIB:6.1f} MB"
                  f" (+{(sample.peak - idle[process.pid]) / MIB:.1f} MB);  whole run {whole_run[name] / MIB:6.1f} MB")
        up_ratio = through_up.rate / direct_up.rate
        print(f"summary: upload {up_ratio:.2f} (≥ 0.7); download, default delivery (presigned)"
              f" {presigned_via_gateway.rate / direct_down.rate:.2f} (≥ 0.9), stream delivery"
              f" {stream_via_gateway.rate / direct_down.rate:.2f}; documents RSS {idle[documents.pid] / MIB:.1f} →"
              f" {documents_rss.peak / MIB:.1f} MB, gateway {idle[gateway.pid] / MIB:.1f} →"
              f" {gateway_rss.peak / MIB:.1f} MB (< 100 MB)")
        for client in (staff, uploader, service_only):
            await client.aclose()
    finally:
        for sampler in run_peaks.values():
            sampler.stop()
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        await drop_schema()
        await drop_schema(LINKS_SCHEMA)
        await asyncio.to_thread(empty_buckets, s3)
        print(f"server logs in {logs}")


def empty_buckets(s3) -> None:  # noqa: ANN001
    """Delete what the run stored: a few GiB per run, which would pile up in a stack kept between runs."""
    for bucket in (BUCKET, DIRECT_BUCKET):
        if s3.bucket_exists(bucket):
            for item in s3.list_objects(bucket, recursive=True):
                s3.remove_object(bucket, item.object_name)


async def drop_schema(schema: str = SCHEMA) -> None:
    import asyncpg

    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=256, help="payload of the throughput runs")
    parser.add_argument("--rss-mb", type=int, default=1024, help="size of the upload during which memory is sampled")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--patch-mb", type=int, default=0,
                        help="tus PATCH size; default: the upload page's chunk size, read from the page")
    parser.add_argument("--clamd", default="", help="scan uploads with the clamd at this address "
                        "(tcp://host:port or unix:///path); default: no scanning")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
