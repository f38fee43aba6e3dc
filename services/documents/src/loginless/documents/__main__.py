"""``python -m loginless.documents api|worker|migrate|asyncapi|projections rebuild``"""

from loginless.documents.bootstrap import MIGRATIONS, asyncapi_document, create_app, create_worker, projections
from loginless.documents.settings import DocumentsSettings
from loginless.shared.runtime import run_service

if __name__ == "__main__":
    run_service(
        settings_factory=DocumentsSettings,
        create_app=create_app,
        create_worker=create_worker,
        asyncapi_document=asyncapi_document,
        migrations_dir=MIGRATIONS,
        projections=projections,
    )
