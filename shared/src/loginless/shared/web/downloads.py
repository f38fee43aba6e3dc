"""How a service names a file it serves (RFC 6266), so every service names them alike."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote


def content_disposition(disposition: Literal["inline", "attachment"], name: str) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients and the exact name as RFC 8187 ``filename*``."""
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%;' else "_" for ch in name) or "file"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
