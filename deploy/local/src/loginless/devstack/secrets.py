"""The local stack's secrets: made once per var directory, kept in ``secrets.env`` (mode 600) so data made
under them (hashed tokens, encrypted deliveries, API keys) stays usable across restarts.

Production deployments supply their own through their secret store; these exist only for ``make run`` and tests.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path

from loginless.shared.web.assertion import generate_key_pair


@dataclass(frozen=True)
class StackSecrets:
    internal_api_secret: str
    assertion_private_key: str
    assertion_public_key: str
    cookie_secret: str
    token_pepper: str
    data_key: str
    dev_api_key: str
    webhook_data_key: str

    @classmethod
    def generate(cls) -> StackSecrets:
        private, public = generate_key_pair()
        return cls(
            internal_api_secret=secrets.token_urlsafe(32),
            assertion_private_key=private,
            assertion_public_key=public,
            cookie_secret=secrets.token_urlsafe(32),
            token_pepper=f"local1:{secrets.token_urlsafe(32)}",
            data_key=base64.b64encode(secrets.token_bytes(32)).decode(),
            dev_api_key=f"ll_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}",
            webhook_data_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        )

    @classmethod
    def load_or_create(cls, path: Path) -> StackSecrets:
        """The stack's secrets from ``path``; any it lacks (a secret added since) are made and written, and those it
        has are kept, so the links and keys a local stack already issued keep working."""
        names = {field.name for field in fields(cls)}
        kept: dict[str, str] = {}
        if path.exists():
            values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
            kept = {key.lower(): value for key, value in values.items() if key.lower() in names}
            if names <= kept.keys():
                return cls(**kept)
        made = replace(cls.generate(), **kept)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.writelines(f"{field.name.upper()}={getattr(made, field.name)}\n" for field in fields(cls))
        return made
