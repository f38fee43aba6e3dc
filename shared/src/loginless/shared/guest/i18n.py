"""Messages in the guest's language: gettext catalogs read with the standard library, never with Babel.

Every message is written in English in the code and templates (the source language) and marked: ``_()`` /
``{% trans %}`` in templates, ``N_()`` for a message kept in Python and translated where it is shown. Babel
extracts them into each package's ``locales/<domain>.pot``, the Spanish ``.po`` holds the translations, and the
compiled ``.mo`` beside it is what runs (``make translations``; docs/guest-pages.md). Babel itself is a build
tool here: loading its catalog reader costs a process about 2.8 MB, more than the documents service can spare.

A page reads a chain of catalogs: its service's own first, then the kit's (base template, error pages, dates),
so a service never repeats a message the kit already translates.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"  # also the language every message is written in
LANGUAGE_NAMES = {"en": "English", "es": "Español"}  # each in its own language, as a switcher shows them


def N_(message: str) -> str:  # noqa: N802 (the gettext convention Babel looks for)
    """Marks ``message`` for extraction without translating it: it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class MessageCatalog:
    """One gettext domain: ``<locales>/<language>/LC_MESSAGES/<domain>.mo``."""

    domain: str
    locales: Path

    def compiled(self, language: str) -> Path:
        return self.locales / language / "LC_MESSAGES" / f"{self.domain}.mo"


KIT_CATALOG = MessageCatalog("guest", Path(__file__).parent / "locales")


@cache
def translations(language: str, catalogs: tuple[MessageCatalog, ...] = (KIT_CATALOG,)) -> gettext.NullTranslations:
    """``language``'s messages from ``catalogs``, the first that has a message giving it; English and unknown
    languages get the messages as written. Each chain is built from fresh objects, because ``add_fallback``
    changes the translations it is called on."""
    chain: gettext.NullTranslations | None = None
    for catalog in catalogs:
        path = catalog.compiled(language)
        if not path.exists():
            continue
        with path.open("rb") as compiled:
            loaded = gettext.GNUTranslations(compiled)
        if chain is None:
            chain = loaded
        else:
            chain.add_fallback(loaded)
    return chain or gettext.NullTranslations()


def supported(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


# ---- dates and sizes ----------------------------------------------------------------------------------------
# Written here rather than with Babel's formatters (see the module's note): two languages need twelve month names,
# one pattern for a date and one for a date with its time.

MONTHS = (N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"), N_("July"),
          N_("August"), N_("September"), N_("October"), N_("November"), N_("December"))
DATE_PATTERN = N_("%(month)s %(day)s, %(year)s")
DATE_TIME_PATTERN = N_("%(month)s %(day)s, %(year)s at %(time)s UTC")


def _utc(moment: date | datetime) -> date | datetime:
    """An aware moment in UTC, so that a date reads the same wherever the guest is; a plain date as it is."""
    return moment.astimezone(UTC) if isinstance(moment, datetime) and moment.tzinfo is not None else moment


def _date_parts(moment: date | datetime, messages: gettext.NullTranslations) -> dict[str, object]:
    return {"month": messages.gettext(MONTHS[moment.month - 1]), "day": moment.day, "year": moment.year}


def format_date(moment: date | datetime, language: str) -> str:
    """``March 12, 2026`` / ``12 de marzo de 2026`` (the day in UTC)."""
    messages = translations(supported(language))
    return messages.gettext(DATE_PATTERN) % _date_parts(_utc(moment), messages)


def format_date_time(moment: datetime, language: str) -> str:
    """``March 12, 2026 at 09:05 UTC`` / ``12 de marzo de 2026 a las 09:05 UTC``: exact wherever it is read."""
    messages = translations(supported(language))
    utc = _utc(moment)
    return messages.gettext(DATE_TIME_PATTERN) % {**_date_parts(utc, messages), "time": f"{utc:%H:%M}"}


_SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")  # the same symbols in both languages (SI, powers of 1000)


def format_size(size: int, language: str) -> str:
    """``1.5 MB`` / ``1,5 MB``: three significant digits at most, with the language's decimal separator."""
    value, unit = float(size), 0
    while value >= 999.5 and unit < len(_SIZE_UNITS) - 1:  # 999.6 KB reads 1 MB, not 1000 KB
        value, unit = value / 1000, unit + 1
    if unit == 0 or value >= 99.95:
        text = f"{value:.0f}"
    else:
        text = f"{value:.1f}".removesuffix(".0")
    if supported(language) == "es":
        text = text.replace(".", ",")
    return f"{text} {_SIZE_UNITS[unit]}"
