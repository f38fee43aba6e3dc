"""``python -m loginless.requests api|worker|migrate|asyncapi|projections rebuild``"""

from loginless.requests import bootstrap
from loginless.shared.runtime import run_service

if __name__ == "__main__":
    run_service(bootstrap)
