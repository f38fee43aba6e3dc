"""One way to page every list of the staff APIs: ``limit`` (default 100, at most 200) and an opaque ``cursor``.

A list answers ``next_cursor``: pass it as ``cursor`` for the next page; null means there is none. The cursor is
the last item's sort key, base64url-encoded, so a page is a bounded keyset query (``> key ORDER BY key LIMIT``),
never an offset scan. The list is fetched one item beyond the limit to know whether another page follows.
A ``limit`` over the maximum is a 422 naming ``query.limit``; the OpenAPI document states the same bounds, as
both come from ``PageLimit``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, TypeVar

from litestar.params import QueryParameter

from loginless.shared.errors import InvalidRequest

PAGE_LIMIT_DEFAULT = 100
PAGE_LIMIT_MAX = 200

PageLimit = Annotated[int, QueryParameter(
    ge=1, le=PAGE_LIMIT_MAX, description=f"Items per page (default {PAGE_LIMIT_DEFAULT}, at most {PAGE_LIMIT_MAX})")]
PageCursor = Annotated[str | None, QueryParameter(
    max_length=256, description="The ``next_cursor`` of the previous page; omit it for the first page")]

T = TypeVar("T")


def encode_cursor(*key: str) -> str:
    """The cursor of a page that ends at the item with this sort key (one or more parts, as the query orders)."""
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, parts: int = 1) -> tuple[str, ...] | None:
    """The sort key a cursor stands for; a cursor that is not one of ours is a 422 naming ``query.cursor``."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = None
    if not isinstance(key, list) or len(key) != parts or not all(isinstance(part, str) for part in key):
        raise _not_a_cursor()
    return tuple(key)


def after_key(cursor: str | None, after: str | None = None) -> str | None:
    """The one-part sort key to continue after: the cursor's, else the older ``after`` parameter's."""
    key = decode_cursor(cursor)
    return key[0] if key is not None else after


def cursor_time(value: str) -> datetime:
    """A timestamp part of a cursor's key."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _not_a_cursor() from None


def cursor_int(value: str) -> int:
    """A numeric part of a cursor's key (a row's insertion order)."""
    if not value.isdigit():
        raise _not_a_cursor()
    return int(value)


def _not_a_cursor() -> InvalidRequest:
    return InvalidRequest("the cursor is not one this API gave out",
                          errors=[{"field": "query.cursor", "message": "not a cursor from a previous page"}])


def page(rows: Sequence[T], limit: int, key: Callable[[T], tuple[str, ...]]) -> tuple[list[T], str | None]:
    """The page's items (at most ``limit`` of the ``limit + 1`` fetched) and the cursor of the next page, if any."""
    items = list(rows[:limit])
    return items, encode_cursor(*key(items[-1])) if len(rows) > limit else None
