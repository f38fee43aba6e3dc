"""The kit's pages: the base template in the guest's language with the firm's branding, the error page, the
assets, and dates and sizes written the way each language writes them."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from loginless.shared.branding import Branding
from loginless.shared.guest.i18n import (
    KIT_CATALOG,
    MessageCatalog,
    format_date,
    format_date_time,
    format_size,
    translations,
)
from loginless.shared.guest.pages import guest_asset_routes, guest_environment, page_context
from loginless.shared.guest.problems import LINK_GONE, LINK_NOT_FOUND

pytestmark = pytest.mark.unit

FIRM = Branding(name="Ortega & Lane", color="#0b6e4f", logo_url="https://cdn.example.test/logo.png",
                contact_name="Front desk", contact_email="desk@ortega-lane.test", contact_phone="+34 600 111 222")
MOMENT = datetime(2026, 3, 12, 9, 5, tzinfo=UTC)


def render(template: str, language: str, branding: Branding | None = FIRM, **values) -> str:
    context = page_context(language=language, branding=branding, asset_prefix="/g/lnk_1", **values)
    return guest_environment().get_template(template).render(context)


def test_the_base_page_has_skip_link_firm_switcher_main_and_contact_in_the_guests_language():
    page = render("guest/error.html", "es", problem=LINK_GONE)
    assert '<html lang="es">' in page
    assert '<a class="skip-link" href="#main">Ir al contenido</a>' in page
    assert '<span class="firm-name">Ortega &amp; Lane</span>' in page
    assert 'src="https://cdn.example.test/logo.png"' in page
    assert '<nav class="languages" aria-label="Idioma">' in page
    assert 'href="?lang=en" hreflang="en" lang="en">English</a>' in page
    assert 'href="?lang=es" hreflang="es" lang="es" aria-current="true">Español</a>' in page
    assert '<main id="main"' in page
    assert "Contacto: Front desk" in page and 'href="mailto:desk@ortega-lane.test"' in page
    assert 'href="tel:+34600111222"' in page


def test_the_page_links_the_kit_stylesheet_and_the_firms_colour_and_nothing_inline():
    page = render("guest/error.html", "en", problem=LINK_GONE)
    assert '<link rel="stylesheet" href="/g/lnk_1/static/guest.css">' in page
    assert '<link rel="stylesheet" href="/g/lnk_1/brand/0b6e4f.css">' in page
    assert "<style" not in page and "style=" not in page and "<script" not in page


def test_the_error_page_says_what_happened_and_what_to_do_naming_the_firm():
    english = render("guest/error.html", "en", problem=LINK_GONE)
    spanish = render("guest/error.html", "es", problem=LINK_GONE)
    assert "<h1>This link is no longer valid</h1>" in english
    assert "<title>This link is no longer valid · Ortega &amp; Lane</title>" in english
    assert "If you still need it, ask Ortega &amp; Lane for a new link." in english
    assert "<h1>Este enlace ya no es válido</h1>" in spanish
    assert "Si todavía lo necesita, pida a Ortega &amp; Lane un enlace nuevo." in spanish


def test_a_page_that_must_not_name_the_firm_names_nobody():
    page = render("guest/error.html", "en", branding=None, problem=LINK_NOT_FOUND)
    assert "If it still doesn't work, ask whoever sent it to you for a new link." in page
    assert "firm-name" not in page and 'class="contact"' not in page and "/brand/" not in page


def test_a_firm_name_cannot_inject_markup_into_a_translated_sentence():
    hostile = Branding(name='<script>alert(1)</script>', contact_email="a@b.test")
    page = render("guest/error.html", "es", branding=hostile, problem=LINK_GONE)
    assert "<script>" not in page
    assert "pida a &lt;script&gt;alert(1)&lt;/script&gt; un enlace nuevo." in page


def test_the_switcher_can_be_hidden():
    assert 'class="languages"' not in render("guest/error.html", "en", problem=LINK_GONE, switcher=False)


def test_a_service_catalog_is_asked_first_and_the_kit_catalog_after_it(tmp_path):
    """A service translating a message the kit also has gets its own words; what it lacks comes from the kit."""
    import io

    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    service = Catalog(locale="es")
    service.add("Skip to content", "Saltar al contenido")
    service.add("Only the service says this", "Solo lo dice el servicio")
    output = io.BytesIO()
    write_mo(output, service)
    compiled = tmp_path / "es" / "LC_MESSAGES" / "service.mo"
    compiled.parent.mkdir(parents=True)
    compiled.write_bytes(output.getvalue())
    chain = translations("es", (MessageCatalog("service", tmp_path), KIT_CATALOG))
    assert chain.gettext("Skip to content") == "Saltar al contenido"
    assert chain.gettext("Only the service says this") == "Solo lo dice el servicio"
    assert chain.gettext("Language") == "Idioma"  # from the kit
    assert chain.gettext("Never marked") == "Never marked"
    assert translations("es").gettext("Skip to content") == "Ir al contenido"  # the kit's own chain is untouched


def test_english_is_the_messages_as_written_with_english_plurals():
    english = translations("en")
    assert english.gettext("Skip to content") == "Skip to content"
    assert english.ngettext("%(count)s file", "%(count)s files", 1) == "%(count)s file"
    assert english.ngettext("%(count)s file", "%(count)s files", 0) == "%(count)s files"


def test_dates_are_written_the_way_each_language_writes_them():
    assert format_date(MOMENT, "en") == "March 12, 2026"
    assert format_date(MOMENT, "es") == "12 de marzo de 2026"
    assert format_date_time(MOMENT, "en") == "March 12, 2026 at 09:05 UTC"
    assert format_date_time(MOMENT, "es") == "12 de marzo de 2026 a las 09:05 UTC"
    assert format_date(date(2026, 12, 1), "es") == "1 de diciembre de 2026"


def test_a_moment_is_shown_in_utc_wherever_it_was_recorded():
    madrid_night = datetime(2026, 3, 13, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert format_date_time(madrid_night, "en") == "March 12, 2026 at 23:30 UTC"


@pytest.mark.parametrize(("size", "english", "spanish"), [
    (0, "0 B", "0 B"), (999, "999 B", "999 B"), (1_500_000, "1.5 MB", "1,5 MB"), (2_000_000, "2 MB", "2 MB"),
    (123_456_789, "123 MB", "123 MB"), (999_700, "1 MB", "1 MB"), (5 * 10**12, "5 TB", "5 TB"),
])
def test_sizes_read_with_the_languages_decimal_separator(size, english, spanish):
    assert (format_size(size, "en"), format_size(size, "es")) == (english, spanish)


def test_the_filters_follow_the_pages_language():
    template = guest_environment().from_string("{{ moment | date }} · {{ moment | date_time }} · {{ 1500000 | size }}")
    assert template.render(language="es", moment=MOMENT) == \
        "12 de marzo de 2026 · 12 de marzo de 2026 a las 09:05 UTC · 1,5 MB"


def test_the_assets_are_the_kit_stylesheet_and_the_brand_colour_by_name():
    with TestClient(Litestar(guest_asset_routes("/guest"))) as http:
        stylesheet = http.get("/guest/static/guest.css")
        brand = http.get("/guest/brand/ffee00.css")
        refused = [http.get(f"/guest/brand/{name}") for name in ("FFEE00.css", "fff.css", "ffee00", "x;y.css")]
    assert stylesheet.status_code == 200 and "--brand-text" in stylesheet.text
    assert brand.status_code == 200 and brand.headers["content-type"].startswith("text/css")
    assert brand.text == ":root { --brand: #ffee00; --brand-text: #000000; }\n"
    assert [response.status_code for response in refused] == [404] * 4
