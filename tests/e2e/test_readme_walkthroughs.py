"""The READMEs' walkthroughs run as written: each file's ``sh`` blocks, in order, in one bash session (``-e -o
pipefail``, so a failing command fails the block), against the test stack, and print what the README says they
print. Blocks fenced ``sh manual`` need a person in the middle (a browser, Ctrl-C) and are left out.

Two things differ from a newcomer's shell, and only these: ``source var/stack.env`` reads the test stack's file (with
the API key of a tenant made for this test, so the walkthroughs' settings -- a reminder 20 s after a link -- stay off
the development tenant the other tests use), and ``xdg-open`` does nothing.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
MARKER = "@@ block {} done @@"


def shell_blocks(readme: Path) -> list[str]:
    blocks = [(match["info"].split(), match["body"]) for match in BLOCK.finditer(readme.read_text())]
    return [body for info, body in blocks if info[:1] == ["sh"] and "manual" not in info]


@pytest.fixture(scope="module")
def walkthrough_env(stack_env, tmp_path_factory) -> Path:
    """The stack's ``stack.env``, with the key of a tenant of the walkthroughs' own as DEV_API_KEY."""
    var_dir = Path(os.environ["LOGINLESS_VAR_DIR"])
    links_settings = dict(line.split("=", 1) for line in (var_dir / "service-env" / "links.env").read_text()
                          .splitlines() if "=" in line)
    api_key = f"ll_{uuid.uuid4().hex[:16]}_{secrets.token_urlsafe(32)}"
    subprocess.run([sys.executable, "-m", "loginless.links", "ensure-tenant", "--tenant-id",
                    f"readme-{uuid.uuid4().hex[:8]}", "--name", "Demo Firm", "--api-key", api_key],
                   env={**os.environ, **links_settings}, check=True, capture_output=True, timeout=120)
    env_file = tmp_path_factory.mktemp("readme") / "stack.env"
    env_file.write_text("".join(f"{key}={api_key if key == 'DEV_API_KEY' else value}\n"
                                for key, value in stack_env.items()))
    return env_file


def run_walkthrough(readme: Path, env_file: Path) -> list[str]:
    """Each block's output; fails with the output so far if a command fails."""
    blocks = shell_blocks(readme)
    assert blocks, f"{readme} has no walkthrough"
    script = ["xdg-open() { :; }"]
    for number, body in enumerate(blocks):
        script += [body.replace("source var/stack.env", f"source {env_file}"), f"echo '{MARKER.format(number)}'"]
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", "\n".join(script)], cwd=REPOSITORY,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"{readme.name}: a block failed\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    outputs = re.split(r"@@ block \d+ done @@\n", result.stdout)
    assert len(outputs) == len(blocks) + 1
    return outputs[:-1]


def test_the_readmes_walkthroughs_run_as_written(walkthrough_env):
    health, link, envelope, invoice, reminder, request, answers = run_walkthrough(REPOSITORY / "README.md",
                                                                                  walkthrough_env)
    assert health.count("200 http://") == 7
    assert link.splitlines()[-1] == "410"  # the revoked link's next visit
    assert '"status": "sent"' in envelope
    assert invoice.splitlines()[-1] == '"paid"'  # the transfer for the rest
    assert "a reminder of your secure link to upload documents" in reminder
    assert '"url": "http' in request
    assert '"field": "answers.iban"' in answers and '"submitted"' in answers and "payslip-jan.pdf" in answers


def test_the_documents_walkthrough_runs_as_written(walkthrough_env):
    [walkthrough] = run_walkthrough(REPOSITORY / "services" / "documents" / "README.md", walkthrough_env)
    assert walkthrough.count('"link_id"') >= 2  # the share's link and the upload request's link
    assert "null" not in walkthrough.split('"document_id"', 1)[1].split(",", 1)[0]


def test_the_notifications_walkthrough_runs_as_written(walkthrough_env):
    [walkthrough] = run_walkthrough(REPOSITORY / "services" / "notifications" / "README.md", walkthrough_env)
    assert "owner@demo-firm.localhost" in walkthrough
