"""``python -m loginless.documents api|worker|migrate|asyncapi|projections rebuild``"""

from loginless.documents import bootstrap
from loginless.shared.runtime import run_service

if __name__ == "__main__":
    run_service(bootstrap)
