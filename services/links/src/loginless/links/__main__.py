"""``python -m loginless.links api|worker|migrate|asyncapi|projections rebuild|ensure-tenant``"""

from loginless.links import bootstrap
from loginless.links.cli import ensure_tenant
from loginless.shared.runtime import run_service

if __name__ == "__main__":
    run_service(bootstrap, extra_commands={"ensure-tenant": ensure_tenant})
