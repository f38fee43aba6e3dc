"""Walking a paginated list of a staff API (``limit``, ``cursor``, ``next_cursor``) the way a client does."""

from __future__ import annotations

from collections.abc import Callable

from litestar.testing import AsyncTestClient

from loginless.shared.web.pagination import PAGE_LIMIT_MAX


async def assert_paginated(client: AsyncTestClient, path: str, *, items: str, id_of: str | Callable[[dict], str],
                           expected: set[str],
                           headers: dict[str, str], params: dict[str, str] | None = None) -> None:
    """More items than a page: the first page is ``limit`` items and a cursor, following cursors yields every item
    exactly once and ends with a null cursor; a limit over the maximum is a
    400 and a forged cursor a 422, problems naming the parameter."""
    limit = 2
    assert len(expected) > limit, "the test needs more items than a page"
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {**(params or {}), "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        page = [id_of(item) if callable(id_of) else item[id_of] for item in body[items]]
        assert len(page) <= limit
        if pages == 0:
            assert len(page) == limit and body["next_cursor"], body
        seen += page
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages <= len(expected), "the cursors never end"
    assert sorted(seen) == sorted(expected), (seen, expected)  # each exactly once, none missing

    too_many = await client.get(path, params={**(params or {}), "limit": str(PAGE_LIMIT_MAX + 1)}, headers=headers)
    assert too_many.headers["content-type"].startswith("application/problem+json")
    # The framework's shape check of a parameter, a 400 like every other one; the problem names the parameter.
    assert too_many.status_code == 400 and any(error["field"] == "query.limit" for error in too_many.json()["errors"])
    forged = await client.get(path, params={**(params or {}), "cursor": "bm90LWEtY3Vyc29y"}, headers=headers)
    assert forged.status_code == 422 and "query.cursor" in forged.text, forged.text
