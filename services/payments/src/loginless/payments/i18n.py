"""The payments pages in English and Spanish, with the guest-page kit (loginless.shared.guest).

Its own messages are in its catalog (``locales/es/LC_MESSAGES/payments.po``); what every guest page says -- the
base template, the error pages, dates -- is in the kit's, asked after it. docs/guest-pages.md.
"""

from __future__ import annotations

from pathlib import Path

from loginless.shared.guest.i18n import KIT_CATALOG, MessageCatalog

PAYMENTS_CATALOG = MessageCatalog("payments", Path(__file__).parent / "locales")
CATALOGS = (PAYMENTS_CATALOG, KIT_CATALOG)
