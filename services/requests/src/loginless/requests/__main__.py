"""``python -m loginless.requests api|worker|migrate|asyncapi``"""

from loginless.requests.bootstrap import MIGRATIONS, asyncapi_document, create_app, create_worker
from loginless.requests.settings import RequestsSettings
from loginless.shared.runtime import run_service

if __name__ == "__main__":
    run_service(
        settings_factory=RequestsSettings,
        create_app=create_app,
        create_worker=create_worker,
        asyncapi_document=asyncapi_document,
        migrations_dir=MIGRATIONS,
    )
