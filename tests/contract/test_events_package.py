"""The events package a subscriber installs: built as a wheel, installed alone in a fresh environment (pydantic is
its only dependency), it reads a real event and carries the JSON Schemas and the contract's version."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from loginless.events.payloads.links import LinkIssued

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")

SUBSCRIBER = """
import json, sys
from importlib import resources
from loginless.events import CloudEvent, event_class

try:
    import loginless.shared
except ImportError:
    pass
else:
    sys.exit("the rest of loginless came along")

event = CloudEvent.from_message(sys.stdin.buffer.read())
payload = event_class(event.type).model_validate(event.data)
schemas = resources.files("loginless.events").joinpath("json_schemas")
schema = json.loads(schemas.joinpath(event.type + ".json").read_text())
contract = json.loads(schemas.joinpath("contract.json").read_text())
print(json.dumps({"class": type(payload).__name__, "link_id": payload.link_id, "required": sorted(schema["required"]),
                  "version": contract["version"]}))
"""


def test_the_events_wheel_installs_alone_and_reads_what_loginless_publishes(tmp_path):
    version = tomllib.loads((ROOT / "events" / "pyproject.toml").read_text())["project"]["version"]
    built = subprocess.run([UV, "build", "--package", "loginless-events", "--wheel", "--out-dir", str(tmp_path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("*.whl")
    assert wheel.name == f"loginless_events-{version}-py3-none-any.whl"
    venv = tmp_path / "subscriber"
    environment = {**os.environ, "VIRTUAL_ENV": str(venv)}
    for command in ([UV, "venv", "--python", sys.executable, str(venv)],
                    [UV, "pip", "install", "--python", str(venv / "bin" / "python"), str(wheel)]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment, check=False)
        assert done.returncode == 0, done.stderr

    issued = LinkIssued(link_id="0b7c4c2e-8d0e-4a57-9d2c-6c1c3b0f7a10", tenant_id="firm", action="upload",
                        resource_id="upr_1", expires_at="2027-01-01T00:00:00Z", issued_at="2026-12-01T00:00:00Z")
    from loginless.events import CloudEvent

    message = CloudEvent(source=issued.source(), type=issued.type_name(), subject=issued.link_id,
                         data=issued.model_dump(mode="json"), tenantid="firm", correlationid="c").to_message()[1]
    read = subprocess.run([str(venv / "bin" / "python"), "-c", SUBSCRIBER], input=message, capture_output=True,
                          timeout=60, check=False)

    assert read.returncode == 0, read.stderr.decode()
    assert json.loads(read.stdout) == {
        "class": "LinkIssued", "link_id": issued.link_id, "version": version,
        "required": sorted(LinkIssued.model_json_schema()["required"])}
