"""The requests service's guest pages in English and Spanish, with the guest-page kit (loginless.shared.guest).

Its own messages are in its catalog (``locales/es/LC_MESSAGES/requests.po``); what every guest page says is in the
kit's, asked after it. The questions' own texts are the firm's, written in both languages in the definition.
"""

from __future__ import annotations

from pathlib import Path

from loginless.shared.guest.i18n import KIT_CATALOG, MessageCatalog

REQUESTS_CATALOG = MessageCatalog("requests", Path(__file__).parent / "locales")
CATALOGS = (REQUESTS_CATALOG, KIT_CATALOG)
