"""Browser-test helpers shared by the services' browser tests and the end-to-end ones: Debian's Chromium driven by
Playwright, axe-core's accessibility check, and a TCP proxy whose connections a test can cut."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from loginless.testkit.endpoints import missing, running_in_ci
from loginless.testkit.network import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = Path(__file__).parent / "axe.min.js"  # axe-core from npm (see its licence header)
PHONE = {"width": 375, "height": 740}


def patterned_pdf(size: int) -> bytes:
    """The bytes :func:`drop_files` builds in the page for a file of ``size``: ``i % 251``, behind a PDF header."""
    head = b"%PDF-1.7\n"
    return head + (bytes(range(251)) * (size // 251 + 1))[len(head):size]


async def drop_files(page: Any, files: list[tuple[str, int]]) -> None:
    """Drop ``(name, size)`` files of :func:`patterned_pdf` bytes on the page's ``[data-dropzone]``."""
    await page.evaluate("""(files) => {
        const transfer = new DataTransfer()
        for (const [name, size] of files) {
            const bytes = new Uint8Array(size)
            for (let i = 0; i < size; i++) bytes[i] = i % 251
            bytes.set(new TextEncoder().encode('%PDF-1.7\\n'))
            transfer.items.add(new File([bytes], name, {type: 'application/pdf'}))
        }
        const zone = document.querySelector('[data-dropzone]')
        zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, bubbles: true, cancelable: true}))
        zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}))
    }""", files)


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium under Playwright; missing, it fails the run in CI and skips elsewhere."""
    if not os.path.exists(CHROMIUM):
        if running_in_ci():
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
        pytest.skip(f"{CHROMIUM} is missing")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        missing("playwright (uv sync installs it)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def axe_violations(page: Any) -> list[dict]:
    """Serious and critical axe-core violations on the page as it is now (the page's context must bypass CSP)."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@asynccontextmanager
async def guest_page(browser: Any) -> AsyncIterator[Any]:
    """A page as a guest's phone opens it, under the page's own CSP; ``page.csp_errors`` gathers what the CSP
    blocked (the console's reports)."""
    context = await browser.new_context(viewport=PHONE, accept_downloads=True, locale="en-GB")
    page = await context.new_page()
    page.csp_errors = []
    page.on("console", lambda message: "Content Security Policy" in message.text and page.csp_errors.append(
        message.text))
    try:
        yield page
    finally:
        await context.close()


async def assert_accessible(browser: Any, url: str, *, cookies: list[dict] | None = None) -> None:
    """No serious or critical axe violation at ``url`` on a 375-px phone, and no sideways scrolling.

    A context of its own that may inject axe past the page's CSP; functional tests run under the real CSP.
    """
    context = await browser.new_context(viewport=PHONE, bypass_csp=True)
    if cookies:
        await context.add_cookies(cookies)
    page = await context.new_page()
    try:
        await page.goto(url)
        assert await axe_violations(page) == [], url
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{url} scrolls sideways on a 375-px phone"
    finally:
        await context.close()


class CuttableProxy:
    """A TCP proxy in front of the gateway: ``cut()`` drops every connection and refuses new ones until
    ``restore()``, as a lost mobile connection would."""

    def __init__(self, target_port: int) -> None:
        self.port, self.target_port = free_port(), target_port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.AbstractServer | None = None
        self.transports: set[asyncio.StreamWriter] = set()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> CuttableProxy:
        self.thread.start()
        self.restore()
        return self

    def _run(self, coroutine):  # noqa: ANN001, ANN202
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def restore(self) -> None:
        async def listen() -> None:
            self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)

        self._run(listen())

    def cut(self) -> None:
        async def close_all() -> None:
            self.server.close()
            for writer in list(self.transports):
                writer.transport.abort()
            self.transports.clear()

        self._run(close_all())

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.transports.update({writer, upstream_writer})

        async def pipe(source, sink) -> None:  # noqa: ANN001
            try:
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    def stop(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
