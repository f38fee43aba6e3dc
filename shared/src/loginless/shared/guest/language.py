"""The one rule that picks the language of a guest page, wherever it is rendered.

1. The guest's own choice: the switcher's ``?lang=``, which the gateway then remembers in the ``loginless_lang``
   cookie and passes on to the services behind it as ``X-Loginless-Language``.
2. The recipient's language, as the firm set it on the link (the gateway's assertion carries it).
3. The browser's ``Accept-Language``, by quality (``es-MX`` counts as ``es``).
4. English.

The choice comes first although it is the last thing a guest does: it is the guest's own act, made on our page
after seeing the language the other rules gave; were the recipient's language to win, the switcher would do
nothing on every page of a link.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie

from loginless.shared.guest.i18n import DEFAULT_LANGUAGE, LANGUAGES

LANGUAGE_QUERY = "lang"
LANGUAGE_COOKIE = "loginless_lang"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
# From the gateway to a service: the language the guest chose (the gateway drops any a guest sends itself).
CHOSEN_LANGUAGE_HEADER = "x-loginless-language"
_LANGUAGE_PARAMETER = f"{LANGUAGE_QUERY}="
_LANGUAGE_PARAMETER_BYTES = _LANGUAGE_PARAMETER.encode()


def choose_language(*, chosen: str | None = None, recipient: str | None = None,
                    accept_language: str | None = None) -> str:
    """The page's language by the rule above; a value we do not speak counts as none."""
    for candidate in (chosen, recipient):
        if candidate in LANGUAGES:
            return candidate
    return best_accepted(accept_language or "") or DEFAULT_LANGUAGE


def best_accepted(accept_language: str) -> str | None:
    """The supported language the browser prefers most; the earlier of equal qualities; never one with q=0."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept_language.split(",")):
        tag, _, parameters = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if language in LANGUAGES and quality > 0 and (best is None or (quality, -position) > best[:2]):
            best = (quality, -position, language)
    return best[2] if best else None


def chosen_in_query(query_string: bytes | str) -> str | None:
    """The switcher's ``?lang=`` in a raw query string, if it names a language we speak."""
    if isinstance(query_string, bytes):
        if _LANGUAGE_PARAMETER_BYTES not in query_string:  # the usual case, on every proxied request: no parsing
            return None
        query_string = query_string.decode("latin-1")
    text = query_string
    if _LANGUAGE_PARAMETER not in text:
        return None
    for name, value in parse_qsl(text):
        if name == LANGUAGE_QUERY and value in LANGUAGES:
            return value
    return None


def language_cookie(language: str, *, secure: bool) -> Cookie:
    """The gateway's memory of the switcher's choice, for every later page, the services' pages included. Lax,
    not Strict, so that it comes along when the guest returns from a link in their mail."""
    return Cookie(key=LANGUAGE_COOKIE, value=language, path="/", max_age=LANGUAGE_COOKIE_SECONDS, httponly=True,
                  secure=secure, samesite="lax")


def chosen_language(connection: ASGIConnection) -> str | None:
    """What the guest chose: ``?lang=`` now, else the choice remembered (the cookie on the gateway's own pages, the
    gateway's header on a service's)."""
    for candidate in (connection.query_params.get(LANGUAGE_QUERY), connection.cookies.get(LANGUAGE_COOKIE),
                      connection.headers.get(CHOSEN_LANGUAGE_HEADER)):
        if candidate in LANGUAGES:
            return candidate
    return None


def language_of(connection: ASGIConnection, *, recipient: str | None = None) -> str:
    """The language of the page answering ``connection``, for a link whose recipient speaks ``recipient``."""
    return choose_language(chosen=chosen_language(connection), recipient=recipient,
                           accept_language=connection.headers.get("accept-language"))
