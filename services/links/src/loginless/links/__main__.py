"""``python -m loginless.links api|worker|migrate|asyncapi|projections rebuild|ensure-tenant``"""

from loginless.links.bootstrap import MIGRATIONS, asyncapi_document, create_app, create_worker, projections
from loginless.links.cli import ensure_tenant
from loginless.links.settings import LinksSettings
from loginless.shared.runtime import run_service

if __name__ == "__main__":
    run_service(
        settings_factory=LinksSettings,
        create_app=create_app,
        create_worker=create_worker,
        asyncapi_document=asyncapi_document,
        migrations_dir=MIGRATIONS,
        projections=projections,
        extra_commands={"ensure-tenant": ensure_tenant},
    )
