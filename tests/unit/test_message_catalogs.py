"""Every guest-facing message has its Spanish translation, and the compiled catalogs that run are the committed
translations: the same steps as ``make translations`` (loginless.testkit.translations), run in memory."""

import pytest

from loginless.shared.guest.i18n import MessageCatalog
from loginless.testkit import translations
from loginless.testkit.translations import CATALOGS, TRANSLATED_LANGUAGES

pytestmark = pytest.mark.unit

EACH = [(catalog, language) for catalog in CATALOGS for language in TRANSLATED_LANGUAGES]
IDS = [f"{catalog.domain}-{language}" for catalog, language in EACH]


@pytest.mark.parametrize(("catalog", "language"), EACH, ids=IDS)
def test_every_message_marked_in_the_code_and_templates_is_translated(catalog, language):
    assert translations.untranslated(catalog, language) == []


@pytest.mark.parametrize(("catalog", "language"), EACH, ids=IDS)
def test_the_committed_mo_is_the_committed_po_compiled(catalog, language):
    assert translations.compiled_differs(catalog, language) == []


@pytest.mark.parametrize(("catalog", "language"), EACH, ids=IDS)
def test_no_translation_is_kept_for_a_message_nothing_uses(catalog, language):
    assert translations.stale(catalog, language) == []


def test_the_build_knows_the_catalogs_the_services_read():
    from loginless.documents.i18n import CATALOGS as DOCUMENTS
    from loginless.gateway.i18n import CATALOGS as GATEWAY
    from loginless.links.messages import CATALOGS as LINKS
    from loginless.notifications.mails import CATALOGS as NOTIFICATIONS
    from loginless.payments.i18n import CATALOGS as PAYMENTS
    from loginless.requests.i18n import CATALOGS as REQUESTS
    from loginless.signing.i18n import CATALOGS as SIGNING

    read = {catalog for service in (DOCUMENTS, GATEWAY, LINKS, NOTIFICATIONS, PAYMENTS, REQUESTS, SIGNING)
            for catalog in service}
    assert read == set(CATALOGS)


def test_every_catalog_marks_messages():
    for catalog in CATALOGS:
        assert len(translations.extracted(catalog)) > 5, catalog.domain


# ---- the checks themselves find what they are for ------------------------------------------------------------


@pytest.fixture
def package(tmp_path) -> MessageCatalog:
    """A small package with messages in Python and in a template, translated and compiled."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "pages.py").write_text('TITLE = N_("Your documents")\n')
    (tmp_path / "templates" / "page.html").write_text(
        "<p>{% trans firm=firm %}{{ firm }} asks for files{% endtrans %}</p>\n"
        "<p>{% trans count=n %}{{ count }} file{% pluralize %}{{ count }} files{% endtrans %}</p>\n")
    catalog = MessageCatalog("sample", tmp_path / "locales")
    po = translations.updated(catalog, "es")
    for message in po:
        match message.id:
            case "Your documents":
                message.string = "Sus documentos"
            case "%(firm)s asks for files":
                message.string = "%(firm)s le pide archivos"
            case ("%(count)s file", "%(count)s files"):
                message.string = ("%(count)s archivo", "%(count)s archivos")
    path = translations.po_path(catalog, "es")
    path.parent.mkdir(parents=True)
    path.write_bytes(translations.po_bytes(po))
    translations.build(catalog)
    return catalog


def rewrite_po(catalog: MessageCatalog, old: str, new: str) -> None:
    path = translations.po_path(catalog, "es")
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_complete_catalog_passes_every_check(package):
    assert translations.untranslated(package, "es") == []
    assert translations.compiled_differs(package, "es") == []
    assert translations.stale(package, "es") == []


def test_a_new_message_nobody_translated_is_found(package):
    (package.locales.parent / "more.py").write_text('LABEL = _("Receipt")\n')
    assert [str(problem) for problem in translations.untranslated(package, "es")] == [
        "sample: es: not translated: 'Receipt'"]


def test_an_emptied_translation_and_an_empty_plural_form_are_found(package):
    rewrite_po(package, 'msgstr "Sus documentos"', 'msgstr ""')
    rewrite_po(package, 'msgstr[1] "%(count)s archivos"', 'msgstr[1] ""')
    found = translations.untranslated(package, "es")
    assert len(found) == 2
    assert "'Your documents'" in str(found[0]) or "'Your documents'" in str(found[1])


def test_a_fuzzy_guess_does_not_count_as_a_translation(package):
    rewrite_po(package, 'msgid "Your documents"', '#, fuzzy\nmsgid "Your documents"')
    assert len(translations.untranslated(package, "es")) == 1


def test_a_translation_that_loses_a_placeholder_is_found(package):
    rewrite_po(package, 'msgstr "%(firm)s le pide archivos"', 'msgstr "La firma le pide archivos"')
    assert any("placeholder" in str(problem) or "format" in str(problem)
               for problem in translations.untranslated(package, "es"))


def test_a_translation_that_renames_a_placeholder_the_script_fills_in_is_found(package):
    (package.locales.parent / "script.py").write_text('MESSAGE = N_("Uploading {percent}")\n')
    po = translations.updated(package, "es")
    po.get("Uploading {percent}").string = "Subiendo {porcentaje}"
    translations.po_path(package, "es").write_bytes(translations.po_bytes(po))
    [problem] = translations.untranslated(package, "es")
    assert "'Uploading {percent}': placeholders ['percent'] expected" in str(problem)


def test_a_translation_changed_without_compiling_is_found(package):
    rewrite_po(package, 'msgstr "Sus documentos"', 'msgstr "Tus documentos"')
    assert [str(problem) for problem in translations.compiled_differs(package, "es")] == [
        "sample: es: sample.mo is not the compiled sample.po"]


def test_a_translation_of_a_removed_message_is_found(package):
    (package.locales.parent / "pages.py").write_text("TITLE = 'no longer marked'\n")
    assert [str(problem) for problem in translations.stale(package, "es")] == [
        "sample: es: no longer used: 'Your documents'"]
