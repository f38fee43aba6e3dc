"""The gateway's HTTP/1.1 client to the owning services: keep-alive connections, streaming both ways.

Written for the one job it has, on asyncio's protocol layer with ``httptools`` (the C parser uvicorn serves us
with), because every guest request pays for this hop: through httpx it cost ~1 ms of CPU, five bare Litestar
requests; a forwarder on aiohttp managed under half a bare Litestar's throughput; on this client a forwarder
keeps up with one (docs/gateway-performance.md). It talks only to our own services, so it needs no TLS, proxies,
cookies, redirects, decompression or HTTP/2.

What it does guarantee:

- bodies stream both ways with backpressure: reading from a service pauses while the guest is slow, and sending
  pauses while the service is; neither side is ever held whole in memory;
- a connection is reused only after a complete exchange the service agreed to keep alive, and is dropped when it
  has been idle longer than ``idle_seconds`` (below uvicorn's 5 s keep-alive, so we close first);
- a request without a body that finds its reused connection closed by the service is retried once on a new one;
- a service that answers before it has read the whole request (an early 413, say) is relayed at once;
- anything unexpected (a reset, a malformed answer, a timeout) closes that connection and raises.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field

import httptools


class UpstreamError(Exception):
    """The exchange with the service failed."""


class UpstreamUnreachable(UpstreamError):
    """No response was received: the service is down, refused the connection, or did not answer in time."""


@dataclass
class UpstreamRequest:
    method: str
    target: bytes  # path and query, exactly as they go on the request line
    headers: list[tuple[bytes, bytes]]  # without Host and without framing headers
    body: AsyncIterable[bytes] | None = None
    content_length: int | None = None  # the body's length; None with a body: it is sent chunked


_READ_HIGH_WATER = 1024 * 1024  # pause reading from the service beyond this much unread response body
_READ_LOW_WATER = 256 * 1024


class UpstreamResponse:
    """A service's answer: status and headers at once, the body as it arrives."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._arrived = asyncio.Event()
        self._failure: BaseException | None = None

    async def body(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk as the socket delivered it (never joined: copying a download costs more than
        sending it in more pieces)."""
        connection = self._connection
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._buffered <= _READ_LOW_WATER:
                    connection.resume_reading()
                yield chunk
                continue
            if self._failure is not None:
                raise UpstreamError("the service broke off its response") from self._failure
            if self.complete:
                return
            self._arrived.clear()
            try:
                async with asyncio.timeout(connection.io_timeout):
                    await self._arrived.wait()
            except TimeoutError as error:
                connection.abandon()
                raise UpstreamError("the service stopped sending its response") from error

    async def aclose(self) -> None:
        """Done with the response: the connection goes back to the pool, or is closed if it cannot be reused."""
        self._connection.release()

    # -- fed by the connection --

    def _feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > _READ_HIGH_WATER:
            self._connection.pause_reading()
        self._arrived.set()

    def _finish(self) -> None:
        self.complete = True
        self._arrived.set()

    def _fail(self, error: BaseException) -> None:
        if not self.complete:
            self._failure = error
            self._arrived.set()


class _Connection(asyncio.Protocol):
    """One keep-alive connection, carrying one exchange at a time."""

    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.io_timeout = pool.io_timeout
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.exchanges = 0
        self._parser = httptools.HttpResponseParser(self)
        self._response: UpstreamResponse | None = None
        self._head: asyncio.Future[UpstreamResponse] | None = None
        self._head_only = False
        self._reusable = False
        self._sending: asyncio.Task | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._reading_paused = False

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._response is None:  # nothing asked: a service talking out of turn
            self.abandon()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(UpstreamError(f"malformed response: {error}"))

    def eof_received(self) -> bool:
        response = self._response
        if response is not None and response.status and not response.complete and self._delimited_by_close():
            self._on_message_complete(keep_alive=False)
        return False  # close our side too

    def connection_lost(self, error: Exception | None) -> None:
        self.closed = True
        self._writable.set()
        self._fail(error or ConnectionResetError("the service closed the connection"))
        self.pool._forget(self)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- httptools callbacks --

    def on_header(self, name: bytes, value: bytes) -> None:
        self._response.headers.append((name.lower(), value))  # type: ignore[union-attr]

    def on_headers_complete(self) -> None:
        response = self._response
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # informational (103 Early Hints): the real answer follows
            response.headers.clear()  # type: ignore[union-attr]
            return
        response.status = status  # type: ignore[union-attr]
        if self._head is not None and not self._head.done():
            self._head.set_result(response)  # type: ignore[arg-type]
        if self._head_only:  # a HEAD answer announces a length it does not send; the parser cannot know that
            self._on_message_complete(keep_alive=False)

    def on_body(self, body: bytes) -> None:
        if not self._head_only:
            self._response._feed(body)  # type: ignore[union-attr]

    def on_message_complete(self) -> None:
        if self._response is not None and self._response.status:
            self._on_message_complete(keep_alive=self._parser.should_keep_alive())

    # -- the exchange --

    async def exchange(self, request: UpstreamRequest, host: bytes) -> UpstreamResponse:
        self.exchanges += 1
        loop = asyncio.get_running_loop()
        self._response = response = UpstreamResponse(self)
        self._head = loop.create_future()
        self._head_only = request.method == "HEAD"
        self._reusable = False
        head = [request.method.encode(), b" ", request.target, b" HTTP/1.1\r\nhost: ", host, b"\r\n"]
        for name, value in request.headers:
            head += [name, b": ", value, b"\r\n"]
        chunked = request.body is not None and request.content_length is None
        if chunked:
            head.append(b"transfer-encoding: chunked\r\n")
        elif request.content_length is not None:
            head += [b"content-length: ", str(request.content_length).encode(), b"\r\n"]
        head.append(b"\r\n")
        self.transport.write(b"".join(head))  # type: ignore[union-attr]
        try:
            if request.body is not None:
                # The service may answer before it has read everything (an early 413): wait for whichever comes
                # first. An upload takes as long as the guest needs; the answer after it gets io_timeout.
                self._sending = asyncio.create_task(self._send_body(request.body, chunked))
                await asyncio.wait((self._head, self._sending), return_when=asyncio.FIRST_COMPLETED)
            # A timer on the answer rather than ``asyncio.timeout``: every guest request waits here, and the
            # timer is a fifth of the cost.
            overdue = loop.call_later(self.io_timeout, self._answer_overdue)
            try:
                await self._head
            finally:
                overdue.cancel()
        except BaseException:
            self.abandon()
            raise
        return response

    def _answer_overdue(self) -> None:
        if self._head is not None and not self._head.done():
            self._head.set_exception(UpstreamUnreachable("the service did not answer in time"))

    async def _send_body(self, body: AsyncIterable[bytes], chunked: bool) -> None:
        try:
            async for chunk in body:
                if not chunk:
                    continue
                if self.closed or self._response is None or self._response.complete:
                    # The service answered already (or went away): the rest is not wanted, and what it would
                    # make of the rest is unknown, so the connection is not reused.
                    self._reusable = False
                    return
                if not self._writable.is_set():
                    async with asyncio.timeout(self.io_timeout):
                        await self._writable.wait()
                if self.closed:
                    return
                self.transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)  # type: ignore
            if chunked and not self.closed:
                self.transport.write(b"0\r\n\r\n")  # type: ignore[union-attr]
        except BaseException as error:
            # The guest's side broke off (or took too long): the service must not take a half body for whole.
            self._fail(UpstreamError("the request body could not be sent"))
            self.abandon()
            if not isinstance(error, Exception):
                raise

    def _on_message_complete(self, *, keep_alive: bool) -> None:
        self._reusable = keep_alive and not self._head_only
        self._response._finish()  # type: ignore[union-attr]

    def _delimited_by_close(self) -> bool:
        names = {name for name, _ in self._response.headers}  # type: ignore[union-attr]
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _fail(self, error: BaseException) -> None:
        if self._head is not None and not self._head.done():
            self._head.set_exception(UpstreamUnreachable(str(error) or type(error).__name__))
            self._head.exception()  # retrieved here: the waiter may be gone already
        if self._response is not None:
            self._response._fail(error)
        if not self.closed:
            self.abandon()

    def pause_reading(self) -> None:
        if not self._reading_paused and not self.closed:
            self._reading_paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]

    def resume_reading(self) -> None:
        if self._reading_paused and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]

    def abandon(self) -> None:
        """Close the connection: its state is unknown or the exchange was cut short."""
        self._reusable = False
        if not self.closed:
            self.closed = True
            self.transport.close()  # type: ignore[union-attr]
        if self._sending is not None and not self._sending.done():
            self._sending.cancel()

    def release(self) -> None:
        response = self._response
        if response is None:
            return  # released already
        sent = self._sending is None or (self._sending.done() and not self._sending.cancelled())
        if not response.complete or not self._reusable or not sent or self.closed or response._chunks:
            self.abandon()
        self._response = self._head = self._sending = None
        self.pool._release(self)


@dataclass
class UpstreamPool:
    """Keep-alive connections to one service (host and port), at most ``max_connections`` at a time."""

    host: str
    port: int
    max_connections: int = 200
    connect_timeout: float = 5.0
    io_timeout: float = 120.0
    idle_seconds: float = 4.0
    _idle: deque[_Connection] = field(default_factory=deque)
    _slots: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        self._host_header = (self.host if self.port == 80 else f"{self.host}:{self.port}").encode("idna")

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """Send ``request``; the response's ``aclose`` must be called when done with it (it frees the slot)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections)
        if self._slots.locked():  # every connection busy: wait for one, but not for ever
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await self._slots.acquire()
            except TimeoutError as error:
                raise UpstreamUnreachable("every connection to the service is busy") from error
        else:
            await self._slots.acquire()
        try:
            connection = self._reuse()
            if connection is not None:
                try:
                    return await connection.exchange(request, self._host_header)
                except UpstreamUnreachable:
                    if request.body is not None:
                        raise  # a body already streamed away cannot be sent again
                    # A reused connection the service had just closed: once more, on a fresh one.
            return await (await self._connect()).exchange(request, self._host_header)
        except BaseException:
            self._slots.release()
            raise

    def _reuse(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely to have been closed
            if not connection.closed and now - connection.idle_since < self.idle_seconds:
                return connection
            connection.abandon()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(lambda: _Connection(self), self.host, self.port)
        except (OSError, TimeoutError) as error:
            raise UpstreamUnreachable(f"cannot connect to {self.host}:{self.port}: {error}") from error
        return connection

    def _release(self, connection: _Connection) -> None:
        if not connection.closed:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        if self._slots is not None:
            self._slots.release()

    def _forget(self, connection: _Connection) -> None:
        """A connection the service closed while idle leaves the pool at once."""
        try:
            self._idle.remove(connection)
        except ValueError:
            pass

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().abandon()
