"""``python -m loginless.gateway api|worker|migrate|asyncapi``"""

from loginless.gateway import bootstrap
from loginless.shared.runtime import run_service

if __name__ == "__main__":
    run_service(bootstrap)
