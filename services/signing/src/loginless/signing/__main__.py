"""``python -m loginless.signing api|worker|migrate|asyncapi``"""

from loginless.shared.runtime import run_service
from loginless.signing import bootstrap

if __name__ == "__main__":
    run_service(bootstrap)
