import os
from pathlib import Path

import pytest

from loginless.shared.testing import endpoints


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    """The running stack's ``stack.env`` (``make test`` and ``make run`` write it)."""
    path = os.environ.get("LOGINLESS_STACK_ENV")
    if not path or not Path(path).is_file():
        endpoints.missing("a running stack (LOGINLESS_STACK_ENV)")
    pairs = (line.split("=", 1) for line in Path(path).read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}
