"""``python -m loginless.links api|worker|migrate|asyncapi|projections rebuild|ensure-tenant``"""

from loginless.links import bootstrap
from loginless.links.cli import EXTRA_COMMANDS
from loginless.shared.runtime import run_service

if __name__ == "__main__":
    run_service(bootstrap, extra_commands=EXTRA_COMMANDS)
