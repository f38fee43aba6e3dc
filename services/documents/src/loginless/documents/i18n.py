"""The documents service's guest pages in English and Spanish, with the guest-page kit (loginless.shared.guest).

Its own messages are in its catalog (``locales/es/LC_MESSAGES/documents.po``); what every guest page says -- the
base template, the error pages, dates and sizes -- is in the kit's, asked after it. docs/guest-pages.md.

The upload page's script shows a few messages of its own (progress, refusals); the page hands them to it already
translated (:func:`script_messages`), with ``{name}``-style placeholders the script fills in.
"""

from __future__ import annotations

from pathlib import Path

from loginless.shared.guest.i18n import KIT_CATALOG, N_, MessageCatalog, supported, translations

DOCUMENTS_CATALOG = MessageCatalog("documents", Path(__file__).parent / "locales")
CATALOGS = (DOCUMENTS_CATALOG, KIT_CATALOG)

# By the keys the upload script asks for (services/documents/frontend/src/upload.js).
SCRIPT_MESSAGES = {
    "waiting": N_("Waiting"),
    "uploading": N_("Uploading… {percent}%"),
    "done": N_("Uploaded"),
    "failed": N_("Failed: {reason}"),
    "retrying": N_("Connection lost — retrying…"),
    "remove": N_("Remove {name}"),
    "too_large": N_("“{name}” is larger than {size}."),
    "wrong_type": N_("“{name}” is not a type of file this link accepts."),
    "empty": N_("“{name}” is empty."),
    "too_many": N_("This link accepts no more files."),
    "link_closed": N_("This link no longer accepts files."),
    "refused_by_scan": N_("“{name}” was refused: our antivirus found malware in it, so it was not kept."),
    "unavailable": N_("Something went wrong on our side. Please try again in a few minutes."),
}


def script_messages(language: str) -> dict[str, str]:
    """The upload script's messages in ``language``."""
    messages = translations(supported(language), CATALOGS)
    return {key: messages.gettext(message) for key, message in SCRIPT_MESSAGES.items()}


# File types as a guest knows them: names of formats stay as they are; the two generic ones are translated.
TYPE_LABELS = {
    "application/pdf": "PDF",
    "image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WebP", "image/tiff": "TIFF",
    "image/heic": "HEIC", "image/svg+xml": "SVG", "image/*": N_("images"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
    "application/vnd.oasis.opendocument.text": "ODT", "application/vnd.oasis.opendocument.spreadsheet": "ODS",
    "application/x-ole-storage": "Office 97–2003", "text/plain": N_("text"), "text/csv": "CSV",
}
_TRANSLATED_LABELS = {"image/*", "text/plain"}


def type_label(mime: str, language: str) -> str:
    label = TYPE_LABELS.get(mime, mime)
    return translations(supported(language), CATALOGS).gettext(label) if mime in _TRANSLATED_LABELS else label


def type_labels(mimes: tuple[str, ...] | list[str], language: str) -> str:
    """The accepted types of an upload request, each named once: ``PDF, images``."""
    return ", ".join(dict.fromkeys(type_label(mime, language) for mime in mimes))
