"""``python -m loginless.gateway api|worker|migrate|asyncapi``"""

from loginless.gateway.bootstrap import MIGRATIONS, asyncapi_document, create_app, create_worker
from loginless.gateway.settings import GatewaySettings
from loginless.shared.runtime import run_service

if __name__ == "__main__":
    run_service(
        settings_factory=GatewaySettings,
        create_app=create_app,
        create_worker=create_worker,
        asyncapi_document=asyncapi_document,
        migrations_dir=MIGRATIONS,
    )
