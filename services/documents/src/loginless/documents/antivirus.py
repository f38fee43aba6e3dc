"""The antivirus adapter: ClamAV's daemon (``clamd``) over its socket, streaming each file with INSTREAM.

Written against clamd's documented protocol (``man clamd``) rather than a client package: ``clamd`` on PyPI is
synchronous and unchanged since 2014; ``aioclamd`` takes a synchronous file object and writes the whole stream into
the socket without waiting for clamd to read it (a 2 GiB upload would sit in memory), speaks TCP only and imports
``pkg_resources``. What we need is small: a ``z``-command, the file's bytes as they come from S3 in chunks of a
4-byte length and the data (flow-controlled by the socket), a zero-length chunk, one ``\\0``-terminated reply.

Whatever keeps a verdict from coming -- clamd unreachable, a timeout, a file over its ``StreamMaxLength``, an
error reply -- raises ``DependencyUnavailable`` (503): a file is released only on an explicit ``OK``.
"""

from __future__ import annotations

import asyncio
import struct
from urllib.parse import urlsplit

import structlog
from prometheus_client import Counter

from loginless.documents.ports import ObjectReader, ScanVerdict
from loginless.shared.errors import DependencyUnavailable

log = structlog.get_logger(__name__)

CHUNK_SIZE = 256 * 1024  # well under clamd's StreamMaxLength, large enough that the 4-byte headers cost nothing
SCANS = Counter("loginless_documents_scans_total", "Guests' uploads scanned by clamd, by outcome",
                ["outcome"])  # clean, refused, unavailable: alert on unavailable (uploads are waiting)


class ClamdScanner:
    def __init__(self, address: str, *, timeout_seconds: float = 120.0) -> None:
        """``address``: ``tcp://host:port`` or ``unix:///path/to/clamd.ctl``."""
        self.address = address
        self.timeout_seconds = timeout_seconds

    async def check_ready(self) -> None:
        if await self._command(b"PING") != "PONG":
            raise DependencyUnavailable("the antivirus scanner did not answer PING", dependency="clamd")

    async def version(self) -> str:
        """The engine and its signature database, e.g. ``ClamAV 1.4.6/27000/Sun Dec  6 10:00:00 2026``."""
        return await self._command(b"VERSION")

    async def scan(self, *, content_type: str, size: int, read: ObjectReader) -> ScanVerdict:
        engine = await self.version()
        try:
            reply = await asyncio.wait_for(self._instream(read), self.timeout_seconds)
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as error:
            raise self._unavailable(error) from error
        if reply.endswith(" FOUND"):  # "stream: Win.Test.EICAR_HDB-1 FOUND"
            signature = reply.removeprefix("stream: ").removesuffix(" FOUND")
            SCANS.labels("refused").inc()
            return ScanVerdict(clean=False, reason=f"malware found: {signature}", engine=engine, signature=signature)
        if reply == "stream: OK":
            SCANS.labels("clean").inc()
            return ScanVerdict(clean=True, engine=engine)
        # "INSTREAM size limit exceeded. ERROR" (StreamMaxLength below the upload limit), or any other error.
        SCANS.labels("unavailable").inc()
        log.error("clamd could not scan a file", reply=reply, size=size)
        raise DependencyUnavailable(f"the antivirus scanner could not scan the file: {reply}", dependency="clamd")

    async def _instream(self, read: ObjectReader) -> str:
        reader, writer = await self._connect()
        try:
            writer.write(b"zINSTREAM\0")
            try:
                async for data in read():
                    view = memoryview(data)
                    for start in range(0, len(view), CHUNK_SIZE):
                        piece = view[start:start + CHUNK_SIZE]
                        writer.write(struct.pack("!L", len(piece)))
                        writer.write(piece)
                        await writer.drain()  # clamd's pace, not S3's: memory stays at a chunk or two
                writer.write(struct.pack("!L", 0))
                await writer.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass  # clamd stopped reading (a size limit): its reply says why
            return (await reader.readuntil(b"\0")).rstrip(b"\0").decode("utf-8", "replace").strip()
        finally:
            writer.close()

    async def _command(self, command: bytes) -> str:
        try:
            async with asyncio.timeout(min(self.timeout_seconds, 10.0)):
                reader, writer = await self._connect()
                try:
                    writer.write(b"z" + command + b"\0")
                    await writer.drain()
                    return (await reader.readuntil(b"\0")).rstrip(b"\0").decode("utf-8", "replace").strip()
                finally:
                    writer.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            raise self._unavailable(error) from error

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        parts = urlsplit(self.address)
        if parts.scheme == "unix":
            return await asyncio.open_unix_connection(parts.path)
        return await asyncio.open_connection(parts.hostname, parts.port or 3310)

    def _unavailable(self, error: BaseException) -> DependencyUnavailable:
        SCANS.labels("unavailable").inc()
        log.warning("antivirus scanner unavailable", address=self.address, error=repr(error))
        return DependencyUnavailable("the antivirus scanner is unavailable", dependency="clamd")
