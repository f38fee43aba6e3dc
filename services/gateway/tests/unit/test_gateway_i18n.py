"""Every guest-facing message is translated, and the guest gets the language they asked for."""

import re
from datetime import datetime

import pytest

from loginless.gateway.i18n import (
    DATE_FORMATS,
    LANGUAGES,
    MONTHS,
    TEMPLATES,
    catalog,
    long_date,
    negotiate_language,
    template_environment,
)

pytestmark = pytest.mark.unit

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def marked_messages() -> list[tuple[str, str | None]]:
    """(singular, plural) of every message marked in the templates, plus those formatted in Python."""
    environment = template_environment()
    messages: list[tuple[str, str | None]] = []
    for path in sorted(TEMPLATES.glob("*.html")):
        for _, function, message in environment.extract_translations(path.read_text()):
            parts = message if isinstance(message, tuple) else (message,)
            plural = parts[1] if function == "ngettext" else None
            messages.append((parts[0], plural))
    messages += [(month, None) for month in MONTHS] + [(DATE_FORMATS["en"], None)]
    return messages


def test_the_templates_mark_their_messages():
    assert len(marked_messages()) > 40


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "en"])
def test_every_marked_message_is_translated_with_the_same_placeholders(language):
    translations = catalog(language)
    for singular, plural in marked_messages():
        assert singular in translations, f"{language}: no translation for {singular!r}"
        translated = translations[singular]
        if plural is None:
            assert isinstance(translated, str), singular
            forms = [translated]
        else:
            assert set(translated) == {"one", "other"}, singular
            forms = list(translated.values())
        for form in forms:
            assert set(PLACEHOLDER.findall(form)) == set(PLACEHOLDER.findall(singular)), singular


def test_the_catalog_holds_no_stale_messages():
    marked = {singular for singular, _ in marked_messages()}
    assert set(catalog("es")) - marked == set()


@pytest.mark.parametrize(("chosen", "remembered", "accept", "expected"), [
    ("es", None, "en", "es"),                       # the switcher wins
    (None, "es", "en-GB,en;q=0.9", "es"),           # then the remembered choice
    ("fr", None, "es-MX,es;q=0.9,en;q=0.8", "es"),  # an unsupported choice is ignored
    (None, None, "fr-FR, en;q=0.5, es;q=0.7", "es"),
    (None, None, "es;q=0, en;q=0.1", "en"),         # q=0 means "not this one"
    (None, None, "de", "en"),
    (None, None, None, "en"),
    (None, None, "es;q=garbage, en;q=0.5", "en"),
])
def test_the_language_follows_the_switcher_then_the_browser(chosen, remembered, accept, expected):
    assert negotiate_language(chosen, remembered, accept) == expected


def test_dates_read_naturally_in_each_language():
    moment = datetime(2026, 11, 27, 15, 0)
    assert long_date(moment, "en") == "November 27, 2026"
    assert long_date(moment, "es") == "27 de noviembre de 2026"


def test_a_firm_name_cannot_inject_markup_into_a_translated_message():
    page = template_environment().from_string(
        "{% trans firm=firm %}{{ firm }} has withdrawn this link.{% endtrans %}")
    rendered = page.render(language="es", firm="<script>alert(1)</script>")
    assert rendered == "&lt;script&gt;alert(1)&lt;/script&gt; ha retirado este enlace."
