"""Every test declares exactly one level, so `make test-<level>` runs each level alone."""

import pytest

LEVELS = {"unit", "contract", "integration", "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        levels = LEVELS & {mark.name for mark in item.iter_markers()}
        if len(levels) != 1:
            raise pytest.UsageError(f"{item.nodeid} must be marked with exactly one of {sorted(LEVELS)}")
