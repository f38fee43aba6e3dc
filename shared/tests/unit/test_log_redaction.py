"""No capability token in any log line: whatever put one in a line (a path a guest made up, a URL in an error, a
traceback), it is replaced before the line is written; ids and digests are left alone."""

from __future__ import annotations

import json
import secrets

import pytest
import structlog

from loginless.shared.web.logging import REDACTED, configure_logging, redact_tokens

pytestmark = pytest.mark.unit


def token() -> str:
    return secrets.token_urlsafe(32)  # what links issues: 43 URL-safe characters


@pytest.mark.parametrize("where", [
    "/g/{t}/", "/g/lnk_1/../../l/{t}", "/l/{t}?lang=es", "https://guests.example/l/{t}", "{t}",
    "Traceback ...\n  File x, in y\nValueError: bad token {t}", "/g/%2Fl%2F{t}",
])
def test_a_token_anywhere_in_a_logged_string_is_redacted(where):
    value = token()
    line = redact_tokens(None, "info", {"event": "request", "path": where.format(t=value), "status": 200})
    assert value not in json.dumps(line) and REDACTED in line["path"]


def test_ids_digests_and_short_values_are_left_as_they_are():
    kept = {"link_id": "5b0f6a53-51c8-4c58-9f1a-2d7c4d2b9c1e", "envelope_id": "env_3f9a1c2b7d8e4f5a6b7c8d9e",
            "sha256": "d26eb35d6759c93bf691dbadd461cb569e038f550e3b344ee9a274bfce7c479b",
            "path": "/v1/envelopes/env_3f9a1c2b7d8e4f5a6b7c8d9e/documents/0/sealed"}
    assert redact_tokens(None, "info", dict(kept)) == kept


def test_a_worker_process_writes_no_token_in_its_lines(capsys):
    before = structlog.get_config()
    configure_logging(as_json=True, level="INFO")
    try:
        value = token()
        structlog.get_logger("test").info("link opened", url=f"https://guests.example/l/{value}")
        written = capsys.readouterr()
    finally:
        structlog.configure(**before)
    assert value not in written.out + written.err and REDACTED in written.out + written.err
