"""The guest pages' message catalogs, built and checked with Babel, which only development needs.

``python -m loginless.testkit.translations`` (``make translations``) does, for each catalog in :data:`CATALOGS`:
extract the messages marked in its package's code and templates (``babel.cfg``), merge them into the Spanish
``.po`` -- new messages arrive untranslated, a changed one arrives "fuzzy" with the old translation as a
suggestion, vanished ones go -- and compile the ``.mo`` that runs. The unit tests use the same steps in memory to
find what ``make translations`` would change, and any message a guest would read in English on a Spanish page.
"""

from __future__ import annotations

import io
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from loginless.shared.guest.i18n import DEFAULT_LANGUAGE, KIT_CATALOG, LANGUAGES, MessageCatalog
from loginless.shared.services import service_names

ROOT = Path(__file__).resolve().parents[4]
MAPPING = ROOT / "babel.cfg"
# Found by place, from the registry of services, rather than imported from each service, so that the test kit
# depends on no service; a unit test (tests/unit/test_message_catalogs.py) holds them to the catalogs the services
# read.
SERVICE_LOCALES = {name: ROOT / "services" / name / "src" / "loginless" / name / "locales" for name in service_names()}
CATALOGS: tuple[MessageCatalog, ...] = (
    KIT_CATALOG,
    *(MessageCatalog(name, locales) for name, locales in SERVICE_LOCALES.items() if locales.is_dir()),
)
TRANSLATED_LANGUAGES = tuple(language for language in LANGUAGES if language != DEFAULT_LANGUAGE)
# Spanish as GNU gettext writes it, not CLDR's three forms (its third is for exact millions: "1 millón de ...").
PLURAL_FORMS = {"es": "nplurals=2; plural=(n != 1);"}
LINE_WIDTH = 120
# gettext's %(name)s, and the {name} of the messages the upload page's script fills in itself.
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


@dataclass(frozen=True)
class Problem:
    """Something about a catalog that ``make translations`` or a translator has to put right."""

    catalog: str
    message: str

    def __str__(self) -> str:
        return f"{self.catalog}: {self.message}"


def extracted(catalog: MessageCatalog) -> Catalog:
    """Every message marked in the catalog's package, as a template (what a ``.pot`` holds)."""
    with MAPPING.open() as mapping_file:
        method_map, options_map = parse_mapping_cfg(mapping_file, filename=str(MAPPING))
    template = Catalog(project="loginless", domain=catalog.domain, charset="utf-8")
    package = catalog.locales.parent
    for filename, line, message, comments, context in extract_from_dir(package, method_map, options_map):
        template.add(message, None, [(filename, line)], auto_comments=comments, context=context)
    return template


def po_path(catalog: MessageCatalog, language: str) -> Path:
    return catalog.compiled(language).with_suffix(".po")


def read_translations(catalog: MessageCatalog, language: str) -> Catalog:
    """The committed ``.po``, or a new empty one."""
    path = po_path(catalog, language)
    if not path.exists():
        fresh = Catalog(locale=language, domain=catalog.domain, project="loginless", version="1",
                        charset="utf-8", creation_date=datetime(2026, 1, 1), revision_date=datetime(2026, 1, 1),
                        header_comment=f"# {catalog.domain}: the {language} messages of the guest pages.\n"
                                       "# Translate the msgstr lines; `make translations` writes the rest.",
                        last_translator="loginless", language_team="loginless", msgid_bugs_address="",
                        fuzzy=False)
        fresh.mime_headers = [("Plural-Forms", PLURAL_FORMS[language])]
        return fresh
    with path.open("rb") as po_file:
        return read_po(po_file, locale=language, domain=catalog.domain)


def updated(catalog: MessageCatalog, language: str) -> Catalog:
    """The ``.po`` merged with what the code and templates mark today."""
    translated = read_translations(catalog, language)
    translated.update(extracted(catalog), update_creation_date=False)
    return translated


def po_bytes(translated: Catalog) -> bytes:
    output = io.BytesIO()
    # No line numbers and no obsolete entries: a template edit does not rewrite the whole file.
    write_po(output, translated, width=LINE_WIDTH, sort_output=True, ignore_obsolete=True, include_lineno=False)
    return output.getvalue()


def mo_bytes(translated: Catalog) -> bytes:
    output = io.BytesIO()
    write_mo(output, translated, use_fuzzy=False)  # a fuzzy translation is a guess: English is shown instead
    return output.getvalue()


def build(catalog: MessageCatalog) -> list[Path]:
    """Extract, update and compile one catalog; returns the files written."""
    written = []
    for language in TRANSLATED_LANGUAGES:
        translated = updated(catalog, language)
        po, mo = po_path(catalog, language), catalog.compiled(language)
        po.parent.mkdir(parents=True, exist_ok=True)
        po.write_bytes(po_bytes(translated))
        with po.open("rb") as po_file:  # compiled from the file as written, as the test compiles it
            mo.write_bytes(mo_bytes(read_po(po_file, locale=language, domain=catalog.domain)))
        written += [po, mo]
    return written


# ---- checks -------------------------------------------------------------------------------------------------


def _is_translated(message: Message) -> bool:
    forms = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return not message.fuzzy and bool(forms) and all(form and form.strip() for form in forms)


def untranslated(catalog: MessageCatalog, language: str) -> list[Problem]:
    """Each message marked in the code or templates that ``language``'s ``.po`` does not translate (missing,
    empty, an empty plural form, or only a fuzzy guess), and each translation whose placeholders differ."""
    translated = read_translations(catalog, language)
    problems = []
    for message in extracted(catalog):
        if not message.id:
            continue
        found = translated.get(message.id, context=message.context)
        if found is None or not _is_translated(found):
            problems.append(Problem(catalog.domain, f"{language}: not translated: {message.id!r}"))
        elif placeholder_problem := _placeholders_differ(found):
            problems.append(Problem(catalog.domain, f"{language}: {message.id!r}: {placeholder_problem}"))
    for message, errors in translated.check():
        problems += [Problem(catalog.domain, f"{language}: {message.id!r}: {error}") for error in errors]
    return problems


def _placeholders(text: str) -> set[str]:
    return {percent or brace for percent, brace in _PLACEHOLDER.findall(text)}


def _placeholders_differ(message: Message) -> str | None:
    """A translation names the same placeholders as its message: Babel accepts one that drops them all, which
    would silently leave the firm's name out of a sentence. A plural's every form may name those of either
    English form, and its last form exactly those of the English plural."""
    ids = list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]
    forms = list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]
    expected = [_placeholders(text) for text in ids]
    found = [_placeholders(form) for form in forms]
    allowed = set().union(*expected)
    if any(names - allowed for names in found) or found[-1] != expected[-1]:
        return f"placeholders {sorted(allowed)} expected, the translation has {[sorted(names) for names in found]}"
    return None


def stale(catalog: MessageCatalog, language: str) -> list[Problem]:
    """Translations of messages nothing marks any more (``make translations`` drops them)."""
    marked = {(message.id, message.context) for message in extracted(catalog) if message.id}
    return [Problem(catalog.domain, f"{language}: no longer used: {message.id!r}")
            for message in read_translations(catalog, language) if message.id and (message.id, message.context)
            not in marked]


def compiled_differs(catalog: MessageCatalog, language: str) -> list[Problem]:
    """The committed ``.mo`` is not what its committed ``.po`` compiles to."""
    mo = catalog.compiled(language)
    if not mo.exists():
        return [Problem(catalog.domain, f"{language}: {mo.name} is missing")]
    if mo.read_bytes() != mo_bytes(read_translations(catalog, language)):
        return [Problem(catalog.domain, f"{language}: {mo.name} is not the compiled {mo.with_suffix('.po').name}")]
    return []


def main() -> None:
    for catalog in CATALOGS:
        for path in build(catalog):
            print(f"[translations] {path.relative_to(ROOT)}")
    problems = [problem for catalog in CATALOGS for language in TRANSLATED_LANGUAGES
                for problem in untranslated(catalog, language)]
    for problem in problems:
        print(f"[translations] to translate: {problem}", file=sys.stderr)


if __name__ == "__main__":
    main()
