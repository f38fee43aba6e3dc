"""The gateway's pages in the guest's language: its own messages from its catalog, the rest from the kit's, plural
forms per language, and nothing a firm's name could inject. (Every marked message having its translation is
tests/unit/test_message_catalogs.py's.)"""

from datetime import UTC, datetime

import pytest

from loginless.gateway.i18n import template_environment
from loginless.shared.branding import Branding
from loginless.shared.guest.pages import page_context
from loginless.shared.guest.problems import LINK_GONE, TOO_MANY_REQUESTS

pytestmark = pytest.mark.unit

FIRM = Branding(name="Acme Tax Advisors", contact_email="help@acme.example")


def render(template: str, language: str, **values) -> str:
    context = page_context(language=language, branding=values.pop("branding", FIRM), asset_prefix="/_gateway",
                           **values)
    return template_environment().get_template(template).render(context)


@pytest.mark.parametrize(("language", "count", "expected"), [
    ("en", 1, "It can be opened 1 more time."),
    ("en", 3, "It can be opened 3 more times."),
    ("es", 1, "Puede abrirse 1 vez más."),
    ("es", 3, "Puede abrirse 3 veces más."),
])
def test_counts_take_each_languages_plural_form(language, count, expected):
    assert expected in render("link_confirm.html", language, uses_left=count)


def test_an_expired_link_says_when_in_the_guests_language_and_who_to_ask():
    expired = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    english = render("link_gone.html", "en", problem=LINK_GONE, reason="expired", expired_on=expired)
    spanish = render("link_gone.html", "es", problem=LINK_GONE, reason="expired", expired_on=expired)
    assert "This link expired on November 27, 2026." in english
    assert "If you still need it, ask Acme Tax Advisors for a new link." in english
    assert "Este enlace caducó el 27 de noviembre de 2026." in spanish
    assert "Si todavía lo necesita, pida a Acme Tax Advisors un enlace nuevo." in spanish
    assert 'href="/_gateway/static/guest.css"' in spanish and "Contacto: Acme Tax Advisors" in spanish


def test_the_rate_limit_page_says_how_long_to_wait():
    page = render("rate_limited.html", "es", branding=None, problem=TOO_MANY_REQUESTS, minutes=2)
    assert "<h1>Demasiados intentos</h1>" in page and "Vuelva a intentarlo dentro de 2 minutos." in page


def test_a_firm_name_cannot_inject_markup_into_a_translated_message():
    hostile = Branding(name="<script>alert(1)</script>")
    page = render("link_gone.html", "es", branding=hostile, problem=LINK_GONE, reason="revoked", expired_on=None)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; ha retirado este enlace." in page
    assert "<script>" not in page
