"""The gateway's HTTP client to the owning services, against real sockets: uvicorn where a real service is meant,
a scripted server where a service misbehaves in a precise way (closes a kept-alive connection, dies mid-answer,
sends early hints, answers garbage or nothing)."""

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from loginless.gateway.upstream import UpstreamError, UpstreamPool, UpstreamRequest, UpstreamUnreachable
from loginless.testkit.fake_services import request_body, serve
from loginless.testkit.waiting import eventually

pytestmark = pytest.mark.integration


async def read_all(response) -> bytes:
    try:
        return b"".join([chunk async for chunk in response.body()])
    finally:
        await response.aclose()


async def echo_service(scope, receive, send) -> None:
    """Answers with what it received: method, the request's framing and its body; HEAD gets the headers only."""
    if scope["type"] == "lifespan":
        return
    body = await request_body(receive)
    headers = dict(scope["headers"])
    framing = b"chunked" if headers.get(b"transfer-encoding") == b"chunked" else headers.get(b"content-length", b"-")
    answer = b"%s %s %s %d:%s" % (scope["method"].encode(), scope["raw_path"], framing, scope["client"][1], body)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(answer)).encode()), (b"x-seen", b"yes")]})
    if scope["method"] != "HEAD":
        await send({"type": "http.response.body", "body": answer})
    else:
        await send({"type": "http.response.body", "body": b""})


def pool_for(url: str, **options) -> UpstreamPool:
    host, port = url.removeprefix("http://").split(":")
    return UpstreamPool(host, int(port), **options)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_kept_alive_connection_carries_the_next_request_and_bodies_arrive_framed_and_whole():
    async with serve(echo_service) as url:
        pool = pool_for(url)
        first = await read_all(await pool.send(UpstreamRequest("GET", b"/guest/a?x=1", [])))
        second = await read_all(await pool.send(UpstreamRequest(
            "POST", b"/guest/b", [(b"content-type", b"text/plain")], body=chunks(b"01234", b"56789"),
            content_length=10)))
        third = await read_all(await pool.send(UpstreamRequest("PUT", b"/guest/c", [], body=chunks(b"abc", b"def"))))
        await pool.close()
    assert first.startswith(b"GET /guest/a - ")
    assert second.startswith(b"POST /guest/b 10 ") and second.endswith(b":0123456789")
    assert third.startswith(b"PUT /guest/c chunked ") and third.endswith(b":abcdef")
    # One connection for all three: the same client port each time.
    ports = {answer.split(b" ")[3].split(b":")[0] for answer in (first, second, third)}
    assert len(ports) == 1, ports


async def test_a_head_answer_has_no_body_and_the_next_request_still_works():
    async with serve(echo_service) as url:
        pool = pool_for(url)
        head = await pool.send(UpstreamRequest("HEAD", b"/guest/file", []))
        assert head.status == 200 and (b"x-seen", b"yes") in head.headers
        assert await read_all(head) == b""
        assert (await read_all(await pool.send(UpstreamRequest("GET", b"/guest/next", [])))).startswith(b"GET ")
        await pool.close()


async def test_a_service_that_answers_before_reading_the_body_is_relayed_at_once_and_the_rest_not_sent():
    sent_chunks = 0

    async def endless_upload() -> AsyncIterator[bytes]:
        nonlocal sent_chunks
        for _ in range(100_000):  # 6.4 GB if anyone read it all
            sent_chunks += 1
            yield b"x" * 65536

    async def refuses_large_files(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-length", b"8")]})
        await send({"type": "http.response.body", "body": b"too big!"})

    async with serve(refuses_large_files) as url:
        pool = pool_for(url)
        response = await pool.send(UpstreamRequest("PATCH", b"/guest/upload", [], body=endless_upload(),
                                                   content_length=100_000 * 65536))
        assert response.status == 413
        assert await read_all(response) == b"too big!"
        await pool.close()
    assert sent_chunks < 100_000


@asynccontextmanager
async def scripted_service(
    answer: Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]],
) -> AsyncIterator[UpstreamPool]:
    """A TCP server that runs ``answer(reader, writer, connection_number)`` for each connection."""
    connections = 0

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            await answer(reader, writer, connections)
        finally:
            writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    pool = UpstreamPool("127.0.0.1", server.sockets[0].getsockname()[1], io_timeout=2.0, connect_timeout=2.0)
    async with server:
        try:
            yield pool
        finally:
            await pool.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


async def test_a_kept_alive_connection_the_service_drops_is_retried_on_a_new_one_unless_a_body_went_out():
    async def answers_once_per_connection(reader, writer, number) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n%d" % number)
        await writer.drain()
        await read_request(reader)  # the next request on this connection: dropped without an answer

    async with scripted_service(answers_once_per_connection) as pool:
        assert await read_all(await pool.send(UpstreamRequest("GET", b"/guest/", []))) == b"1"
        # Reuses connection 1, which the service drops: retried on connection 2.
        assert await read_all(await pool.send(UpstreamRequest("GET", b"/guest/", []))) == b"2"
        with pytest.raises(UpstreamUnreachable):  # a streamed body cannot be sent twice
            await pool.send(UpstreamRequest("POST", b"/guest/", [], body=chunks(b"abc"), content_length=3))


async def test_early_hints_are_skipped_and_the_final_answer_relayed():
    async def hints_first(reader, writer, number) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </app.js>; rel=preload\r\n\r\n"
                     b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read()

    async with scripted_service(hints_first) as pool:
        response = await pool.send(UpstreamRequest("GET", b"/guest/", []))
        assert response.status == 200
        assert response.headers == [(b"content-type", b"text/plain"), (b"content-length", b"2")]
        assert await read_all(response) == b"ok"


async def test_a_service_that_dies_mid_answer_breaks_the_response_off():
    async def dies(reader, writer, number) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b"x" * 10)
        await writer.drain()

    async with scripted_service(dies) as pool:
        response = await pool.send(UpstreamRequest("GET", b"/guest/", []))
        with pytest.raises(UpstreamError):
            await read_all(response)


async def test_an_answer_delimited_by_closing_the_connection_is_complete_when_it_closes():
    async def old_style(reader, writer, number) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")
        await writer.drain()

    async with scripted_service(old_style) as pool:
        assert await read_all(await pool.send(UpstreamRequest("GET", b"/guest/", []))) == b"all of it"


@pytest.mark.parametrize("behaviour", ["garbage", "silence"])
async def test_garbage_or_silence_from_a_service_is_reported_as_unreachable(behaviour):
    async def misbehaves(reader, writer, number) -> None:
        await read_request(reader)
        if behaviour == "garbage":
            writer.write(b"SMTP ready\r\n\r\n")
            await writer.drain()
        await reader.read()  # and then nothing, until the client gives up

    async with scripted_service(misbehaves) as pool:
        pool.io_timeout = 0.3
        with pytest.raises(UpstreamUnreachable):
            await pool.send(UpstreamRequest("GET", b"/guest/", []))


async def test_a_service_that_is_not_listening_is_reported_as_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UpstreamUnreachable, match="cannot connect"):
        await UpstreamPool("127.0.0.1", port).send(UpstreamRequest("GET", b"/guest/", []))


async def test_a_slow_reader_pauses_the_service_instead_of_piling_its_answer_up():
    """The service streams 64 MiB; the guest side reads only the first chunk. The client stops reading the
    socket once about a megabyte waits unread, so what it holds stays bounded whatever the service sends."""
    size = 64 * 1024 * 1024

    async def streams(reader, writer, number) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
        block = b"y" * 65536
        for _ in range(size // len(block)):
            writer.write(block)
            await writer.drain()

    async with scripted_service(streams) as pool:
        response = await pool.send(UpstreamRequest("GET", b"/guest/", []))
        body = response.body()
        assert await anext(body)

        async def paused() -> bool:
            return response._connection._reading_paused

        await eventually(paused, timeout=10, interval=0.01, message="reading paused")
        waiting = response._buffered
        assert 1024 * 1024 < waiting < 2 * 1024 * 1024
        # Reading on drains what waited; below a quarter of a megabyte the socket is read again.
        drained = 0
        while response._connection._reading_paused:
            drained += len(await anext(body))
        assert waiting - drained <= 256 * 1024
        await body.aclose()
        await response.aclose()
