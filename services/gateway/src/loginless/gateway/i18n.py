"""Guest pages in English and Spanish.

Templates mark every guest-facing string with Jinja's i18n extension (``{% trans %}``, ``_()``); English is the
source language and ``locales/<language>.json`` maps each English message to its translation (plural messages to
``{"one": ..., "other": ...}``). A unit test fails when a marked message has no translation.

The language is the one the guest picked with the switcher (``?lang=``, then remembered in a cookie), else the
best match of the browser's ``Accept-Language``, else English.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "loginless_lang"
LOCALES = Path(__file__).parent / "locales"
TEMPLATES = Path(__file__).parent / "templates"

# Marked for translation here because dates are formatted in Python.
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
DATE_FORMATS = {"en": "%(month)s %(day)s, %(year)s"}


@cache
def catalog(language: str) -> dict[str, Any]:
    path = LOCALES / f"{language}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def translate(language: str, message: str) -> str:
    translated = catalog(language).get(message)
    return translated if isinstance(translated, str) else message


def translate_plural(language: str, singular: str, plural: str, count: int) -> str:
    forms = catalog(language).get(singular)
    form = "one" if count == 1 else "other"
    if isinstance(forms, dict) and form in forms:
        return forms[form]
    return singular if count == 1 else plural


def negotiate_language(chosen: str | None, remembered: str | None, accept_language: str | None) -> str:
    for candidate in (chosen, remembered):
        if candidate in LANGUAGES:
            return candidate
    return best_accepted(accept_language or "") or DEFAULT_LANGUAGE


def best_accepted(accept_language: str) -> str | None:
    """The supported language the browser prefers most (``es-MX;q=0.9`` counts as ``es``)."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept_language.split(",")):
        tag, _, parameters = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if language in LANGUAGES and quality > 0 and (best is None or (quality, -position) > best[:2]):
            best = (quality, -position, language)
    return best[2] if best else None


def long_date(value: datetime, language: str) -> str:
    month = translate(language, MONTHS[value.month - 1])
    pattern = translate(language, DATE_FORMATS["en"])
    return pattern % {"month": month, "day": value.day, "year": value.year}


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translate(context.get("language", DEFAULT_LANGUAGE), message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return translate_plural(context.get("language", DEFAULT_LANGUAGE), singular, plural, count)


def template_environment() -> Environment:
    """The Jinja environment of the guest pages; each page's context names its ``language``."""
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                              extensions=["jinja2.ext.i18n"])
    # newstyle: variables are substituted after translation and escaped, so a firm's name cannot inject markup.
    environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    environment.filters["long_date"] = lambda value, language: long_date(value, language)
    return environment
