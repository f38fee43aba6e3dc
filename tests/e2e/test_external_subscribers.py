"""Subscribers outside loginless, as another team would write them, each in an environment of its own: the
FastStream example with only the loginless-events wheel, and the confluent-kafka example with only the CloudEvents
SDK (examples/subscribers/). Both see the fixed-name events as a guest acts on the running stack."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from loginless.testkit.guests import DocumentsDesk, Guest

from .test_notifications import upload

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
EXAMPLES = ROOT / "examples" / "subscribers"


def environment_with(directory: Path, *requirements: str) -> Path:
    """A fresh virtual environment holding only ``requirements``; its Python."""
    for command in ([UV, "venv", "--python", sys.executable, str(directory)],
                    [UV, "pip", "install", "--python", str(directory / "bin" / "python"), *requirements]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
    return directory / "bin" / "python"


class Subscriber:
    """A subscriber process; the JSON lines it prints, gathered as they come."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.lines: queue.Queue[dict] = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            if line.startswith("{"):  # an event; FastStream's own log lines are not
                self.lines.put(json.loads(line))

    def wait_for(self, event_type: str, subject: str | None = None, *, timeout: float = 60,
                 where: Callable[[dict], bool] = lambda event: True) -> dict:
        """The first event of ``event_type`` (about ``subject``, and ``where`` it holds) the subscriber printed."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.seen:
                if event["type"] == event_type and subject in (None, event["subject"]) and where(event):
                    return event
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{event_type} for {subject} never arrived ({len(self.seen)} events seen)"
            try:
                self.seen.append(self.lines.get(timeout=min(remaining, 1)))
            except queue.Empty:
                assert self.process.poll() is None, "the subscriber stopped"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def subscribers(stack_env, tmp_path_factory) -> Iterator[tuple[Subscriber, Subscriber]]:
    place = tmp_path_factory.mktemp("subscribers")
    built = subprocess.run([UV, "build", "--package", "loginless-events", "--wheel", "--out-dir", str(place)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    [wheel] = place.glob("*.whl")
    with_package = environment_with(place / "faststream", str(wheel), "faststream[kafka]")
    with_sdk = environment_with(place / "sdk", "confluent-kafka", "cloudevents")
    kafka, topics = stack_env["KAFKA_BOOTSTRAP_SERVERS"], ["links.events", "documents.events"]
    running = (
        Subscriber([str(with_package), str(EXAMPLES / "faststream_subscriber.py"), "--bootstrap-servers", kafka,
                    "--group", f"e2e-faststream-{uuid.uuid4().hex[:8]}", *topics]),
        Subscriber([str(with_sdk), str(EXAMPLES / "confluent_cloudevents_subscriber.py"), "--bootstrap-servers",
                    kafka, "--group", f"e2e-confluent-{uuid.uuid4().hex[:8]}", *topics]),
    )
    yield running
    for subscriber in running:
        subscriber.stop()


def test_subscribers_outside_loginless_see_the_fixed_name_events_as_a_guest_acts(stack_env, firm, subscribers):
    desk = DocumentsDesk(stack_env, firm)
    request = desk.request_upload()
    upload(stack_env, request.url, "statement.pdf", b"%PDF-1.4\n%subscribers\n")
    share = desk.share()
    guest = Guest(stack_env["GATEWAY_URL"])
    link_id, page = guest.enter(share.url)
    assert page.status_code == 200

    with_package, with_sdk = subscribers
    for subscriber in (with_package, with_sdk):
        for link in (request, share):
            issued = subscriber.wait_for("loginless.links.LinkIssued.v1", link.link_id)
            assert issued["tenantid"] == "dev"
        subscriber.wait_for("loginless.documents.DocumentShared.v1", share.resource_id)
        subscriber.wait_for("loginless.links.LinkUsed.v1", link_id)
    # The file's id is known only from the event itself: the SDK subscriber prints the data.
    uploaded = with_sdk.wait_for("loginless.documents.FileUploaded.v1",
                                 where=lambda event: event["data"]["upload_request_id"] == request.resource_id)
    assert uploaded["data"]["display_name"] == "statement.pdf"
    seen_by_package = with_package.wait_for("loginless.documents.FileUploaded.v1", uploaded["subject"])
    assert seen_by_package["payload"] == "FileUploaded"
