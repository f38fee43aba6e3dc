"""The gateway's guest pages in English and Spanish, with the guest-page kit (loginless.shared.guest).

The gateway's own messages are in its catalog (``locales/es/LC_MESSAGES/gateway.po``); what every guest page says
-- the base template, the error pages, dates -- is in the kit's, asked after it. docs/guest-pages.md.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment

from loginless.shared.guest.i18n import KIT_CATALOG, MessageCatalog
from loginless.shared.guest.pages import guest_environment

TEMPLATES = Path(__file__).parent / "templates"
GATEWAY_CATALOG = MessageCatalog("gateway", Path(__file__).parent / "locales")
CATALOGS = (GATEWAY_CATALOG, KIT_CATALOG)


def template_environment() -> Environment:
    """The Jinja environment of the gateway's pages; each page's context names its ``language``."""
    return guest_environment(TEMPLATES, catalogs=CATALOGS)
