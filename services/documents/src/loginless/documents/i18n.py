"""Every string a guest reads, in English and Spanish, and how a page picks its language.

A plain catalog rather than gettext: two languages, a few dozen strings, and no build step for ``.mo`` files.
Templates call ``t("key", **values)``; a missing Spanish string falls back to English, and a test keeps both
catalogs complete.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "skip": "Skip to content",
        "language": "Language",
        "shared_by": "{firm} shared a document with you",
        "document": "Document",
        "size": "Size",
        "type": "Type",
        "download": "Download",
        "preview": "Preview",
        "preview_title": "Preview of {name}",
        "open_preview": "Open the document in its own tab",
        "page_label": "Page {page} of {total}",
        "more_pages": "Showing the first {shown} of {total} pages.",
        "preview_failed": "The preview could not be shown. The link above opens the document itself.",
        "no_preview": "This type of file cannot be previewed here.",
        "no_preview_download": "This type of file cannot be previewed here; download it to open it.",
        "view_only": "This document was shared for viewing only: it cannot be downloaded.",
        "view_only_no_preview": "It can only be viewed here, and this type of file has no preview. "
                                "Ask {firm} for another way to see it.",
        "expires": "This link works until {date}.",
        "contact": "Questions? Contact {firm}",
        "upload_title": "{firm} asks you for files",
        "upload_intro": "Add your files below. They go straight to {firm}; nobody else can see them.",
        "upload_limits": "Up to {files} file(s), each up to {size}. Accepted: {types}.",
        "upload_deadline": "You can upload until {date}.",
        "your_name": "Your name (optional)",
        "your_email": "Your e-mail (optional)",
        "drop_here": "Drag and drop files here",
        "or": "or",
        "choose_files": "Choose files",
        "start_upload": "Upload",
        "files": "Files",
        "waiting": "Waiting",
        "uploading": "Uploading… {percent}%",
        "done": "Uploaded",
        "failed": "Failed: {reason}",
        "retrying": "Connection lost — retrying…",
        "remove": "Remove {name}",
        "resume_hint": "If the connection drops, the upload continues where it stopped. After reloading the page, "
                       "choose the same file again to resume it.",
        "noscript": "Uploading needs JavaScript. If you cannot turn it on, ask {firm} for another way to send "
                    "your files.",
        "receipt": "See what {firm} has received",
        "receipt_title": "Files received",
        "receipt_intro": "{firm} has received these files through your link:",
        "receipt_empty": "Nothing has arrived through this link yet.",
        "back_to_upload": "Upload more files",
        "received_at": "Received",
        "remaining": "This link accepts {count} more file(s).",
        "no_more_files": "This link has received all the files it accepts.",
        "error_title": "This link cannot be used",
        "gone": "This link has ended. Ask {firm} for a new one.",
        "gone_deadline": "The deadline for uploads has passed. Ask {firm} for a new link.",
        "not_found": "There is nothing here. Check the link you received, or ask {firm}.",
        "forbidden_download": "This document was shared for viewing only, so it cannot be downloaded.",
        "unavailable": "Something went wrong on our side. Please try again in a few minutes.",
        "too_large": "“{name}” is larger than {size}.",
        "wrong_type": "“{name}” is not a type of file this link accepts.",
        "empty": "“{name}” is empty.",
        "too_many": "This link accepts no more files.",
        "link_closed": "This link no longer accepts files.",
        "bytes": "{value} bytes",
    },
    "es": {
        "skip": "Saltar al contenido",
        "language": "Idioma",
        "shared_by": "{firm} ha compartido un documento contigo",
        "document": "Documento",
        "size": "Tamaño",
        "type": "Tipo",
        "download": "Descargar",
        "preview": "Vista previa",
        "preview_title": "Vista previa de {name}",
        "open_preview": "Abrir el documento en otra pestaña",
        "page_label": "Página {page} de {total}",
        "more_pages": "Se muestran las primeras {shown} de {total} páginas.",
        "preview_failed": "No se ha podido mostrar la vista previa. El enlace de arriba abre el documento.",
        "no_preview": "Este tipo de archivo no tiene vista previa aquí.",
        "no_preview_download": "Este tipo de archivo no tiene vista previa aquí; descárgalo para abrirlo.",
        "view_only": "Este documento se ha compartido solo para ver: no se puede descargar.",
        "view_only_no_preview": "Solo se puede ver aquí y este tipo de archivo no tiene vista previa. "
                                "Pide a {firm} otra forma de verlo.",
        "expires": "Este enlace funciona hasta el {date}.",
        "contact": "¿Preguntas? Contacta con {firm}",
        "upload_title": "{firm} te pide archivos",
        "upload_intro": "Añade tus archivos abajo. Van directamente a {firm}; nadie más puede verlos.",
        "upload_limits": "Hasta {files} archivo(s), de {size} como máximo cada uno. Se aceptan: {types}.",
        "upload_deadline": "Puedes subir archivos hasta el {date}.",
        "your_name": "Tu nombre (opcional)",
        "your_email": "Tu correo electrónico (opcional)",
        "drop_here": "Arrastra y suelta archivos aquí",
        "or": "o",
        "choose_files": "Elegir archivos",
        "start_upload": "Subir",
        "files": "Archivos",
        "waiting": "En espera",
        "uploading": "Subiendo… {percent}%",
        "done": "Subido",
        "failed": "Error: {reason}",
        "retrying": "Se perdió la conexión; reintentando…",
        "remove": "Quitar {name}",
        "resume_hint": "Si se corta la conexión, la subida continúa donde se quedó. Si recargas la página, elige "
                       "de nuevo el mismo archivo para reanudarla.",
        "noscript": "Para subir archivos hace falta JavaScript. Si no puedes activarlo, pide a {firm} otra forma "
                    "de enviar tus archivos.",
        "receipt": "Ver lo que ha recibido {firm}",
        "receipt_title": "Archivos recibidos",
        "receipt_intro": "{firm} ha recibido estos archivos a través de tu enlace:",
        "receipt_empty": "Todavía no ha llegado nada a través de este enlace.",
        "back_to_upload": "Subir más archivos",
        "received_at": "Recibido",
        "remaining": "Este enlace acepta {count} archivo(s) más.",
        "no_more_files": "Este enlace ya ha recibido todos los archivos que acepta.",
        "error_title": "Este enlace no se puede usar",
        "gone": "Este enlace ha caducado. Pide uno nuevo a {firm}.",
        "gone_deadline": "El plazo para subir archivos ha terminado. Pide un enlace nuevo a {firm}.",
        "not_found": "Aquí no hay nada. Revisa el enlace que recibiste o pregunta a {firm}.",
        "forbidden_download": "Este documento se ha compartido solo para ver, así que no se puede descargar.",
        "unavailable": "Algo ha fallado por nuestra parte. Inténtalo de nuevo en unos minutos.",
        "too_large": "«{name}» ocupa más de {size}.",
        "wrong_type": "«{name}» no es un tipo de archivo que acepte este enlace.",
        "empty": "«{name}» está vacío.",
        "too_many": "Este enlace no acepta más archivos.",
        "link_closed": "Este enlace ya no acepta archivos.",
        "bytes": "{value} bytes",
    },
}

# Strings the upload page's script needs, handed to it in a data attribute.
SCRIPT_KEYS = ("waiting", "uploading", "done", "failed", "retrying", "remove", "too_large", "wrong_type", "empty",
               "too_many", "link_closed", "unavailable")


def choose_language(query: str | None, accept_language: str | None, hint: str | None = None) -> str:
    """``?lang=`` (the switcher) first, then the browser's ``Accept-Language``, then the recipient's language
    the firm chose, then English."""
    if query in LANGUAGES:
        return query
    best, best_q = None, 0.0
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        quality -= position * 1e-6  # earlier wins a tie
        if primary in LANGUAGES and quality > best_q:
            best, best_q = primary, quality
    if best:
        return best
    return hint if hint in LANGUAGES else DEFAULT_LANGUAGE


def translator(language: str) -> Callable[..., str]:
    strings = CATALOG.get(language, CATALOG[DEFAULT_LANGUAGE])

    def t(key: str, **values: object) -> str:
        text = strings.get(key) or CATALOG[DEFAULT_LANGUAGE][key]
        return text.format(**values) if values else text

    return t


def human_size(size: int, language: str) -> str:
    units = ("B", "KB", "MB", "GB", "TB")
    value, unit = float(size), 0
    while value >= 1000 and unit < len(units) - 1:
        value, unit = value / 1000, unit + 1
    text = f"{value:.0f}" if unit == 0 or value >= 100 else f"{value:.1f}".removesuffix(".0")
    if language == "es":
        text = text.replace(".", ",")
    return f"{text} {units[unit]}"


def human_date(moment, language: str) -> str:  # noqa: ANN001
    months = {
        "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December"],
        "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
               "noviembre", "diciembre"],
    }[language if language in LANGUAGES else DEFAULT_LANGUAGE]
    if language == "es":
        return f"{moment.day} de {months[moment.month - 1]} de {moment.year}, {moment:%H:%M} UTC"
    return f"{moment.day} {months[moment.month - 1]} {moment.year}, {moment:%H:%M} UTC"


TYPE_LABELS = {
    "application/pdf": "PDF",
    "image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WebP", "image/tiff": "TIFF",
    "image/heic": "HEIC", "image/svg+xml": "SVG", "image/*": "images",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint",
    "application/vnd.oasis.opendocument.text": "ODT", "application/vnd.oasis.opendocument.spreadsheet": "ODS",
    "application/x-ole-storage": "Office 97–2003", "text/plain": "text", "text/csv": "CSV",
}


SPANISH_TYPE_LABELS = {"image/*": "imágenes", "text/plain": "texto"}


def type_labels(mimes: tuple[str, ...] | list[str], language: str = DEFAULT_LANGUAGE) -> str:
    localized = SPANISH_TYPE_LABELS if language == "es" else {}
    return ", ".join(dict.fromkeys(localized.get(mime) or TYPE_LABELS.get(mime, mime) for mime in mimes))
