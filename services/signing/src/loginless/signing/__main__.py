"""``python -m loginless.signing api|worker|migrate|asyncapi``"""

from loginless.shared.runtime import run_service
from loginless.signing.bootstrap import MIGRATIONS, asyncapi_document, create_app, create_worker
from loginless.signing.settings import SigningSettings

if __name__ == "__main__":
    run_service(
        settings_factory=SigningSettings,
        create_app=create_app,
        create_worker=create_worker,
        asyncapi_document=asyncapi_document,
        migrations_dir=MIGRATIONS,
    )
