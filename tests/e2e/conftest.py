import os
from pathlib import Path

import pytest

from loginless.testkit import endpoints
from loginless.testkit.guests import Firm


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    """The running stack's ``stack.env`` (``make test`` and ``make run`` write it)."""
    path = os.environ.get("LOGINLESS_STACK_ENV")
    if not path or not Path(path).is_file():
        endpoints.missing("a running stack (LOGINLESS_STACK_ENV)")
    pairs = (line.split("=", 1) for line in Path(path).read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


@pytest.fixture(scope="session")
def firm(stack_env) -> Firm:
    """The development tenant's backend; it remembers every link issued, for the token-leak check at the end."""
    return Firm(stack_env)
