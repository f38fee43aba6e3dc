"""``python -m loginless.payments api|worker|migrate|asyncapi``"""

from loginless.payments.bootstrap import MIGRATIONS, asyncapi_document, create_app, create_worker
from loginless.payments.settings import PaymentsSettings
from loginless.shared.runtime import run_service

if __name__ == "__main__":
    run_service(
        settings_factory=PaymentsSettings,
        create_app=create_app,
        create_worker=create_worker,
        asyncapi_document=asyncapi_document,
        migrations_dir=MIGRATIONS,
    )
