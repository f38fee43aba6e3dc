"""A guest page's language: the guest's own choice, then the recipient's, then the browser's, then English."""

import pytest
from litestar import Litestar, Request, get
from litestar.testing import TestClient

from loginless.shared.guest.language import (
    CHOSEN_LANGUAGE_HEADER,
    LANGUAGE_COOKIE,
    best_accepted,
    choose_language,
    chosen_in_query,
    language_of,
)

pytestmark = pytest.mark.unit


def test_the_guests_choice_wins_over_the_recipients_language_and_the_browser():
    assert choose_language(chosen="es", recipient="en", accept_language="en") == "es"
    assert choose_language(chosen="en", recipient="es", accept_language="es") == "en"


def test_without_a_choice_the_recipients_language_wins_over_the_browser():
    assert choose_language(recipient="es", accept_language="en-GB,en;q=0.9") == "es"
    assert choose_language(recipient="en", accept_language="es") == "en"


def test_without_a_choice_or_a_recipient_language_the_browser_decides():
    assert choose_language(accept_language="es-MX,es;q=0.9,en;q=0.8") == "es"


def test_with_nothing_to_go_by_the_page_is_in_english():
    assert choose_language() == "en"
    assert choose_language(accept_language="de-DE,fr;q=0.9") == "en"


def test_a_language_we_do_not_speak_counts_as_no_answer_at_each_step():
    assert choose_language(chosen="fr", recipient="de", accept_language="es") == "es"
    assert choose_language(chosen="", recipient="es") == "es"


@pytest.mark.parametrize(("header", "expected"), [
    ("es-MX", "es"),                          # a regional variant counts as its language
    ("fr-FR, en;q=0.5, es;q=0.7", "es"),      # by quality, not by position
    ("en;q=0.8, es;q=0.8", "en"),             # equal qualities: the earlier
    ("es;q=0, en;q=0.1", "en"),               # q=0 means "not this one"
    ("es;q=garbage, en;q=0.5", "en"),         # an unreadable quality counts as 0
    ("ES;Q=0.9", "es"),
    ("*", None),
    ("", None),
])
def test_accept_language_is_read_by_quality(header, expected):
    assert best_accepted(header) == expected


def test_the_switcher_in_a_raw_query_string():
    assert chosen_in_query(b"sent=1&lang=es") == "es"
    assert chosen_in_query("lang=fr") is None
    assert chosen_in_query(b"") is None
    assert chosen_in_query(b"slang=es") is None


@get("/page", sync_to_thread=False)
def page(request: Request) -> str:
    return language_of(request, recipient=request.query_params.get("recipient"))


@pytest.mark.parametrize(("url", "headers", "expected"), [
    ("/page?lang=es&recipient=en", {"accept-language": "en"}, "es"),                   # the switcher now
    ("/page?recipient=en", {"cookie": f"{LANGUAGE_COOKIE}=es"}, "es"),                # remembered by the gateway
    ("/page?recipient=en", {CHOSEN_LANGUAGE_HEADER: "es"}, "es"),                     # passed on by the gateway
    ("/page?lang=en", {"cookie": f"{LANGUAGE_COOKIE}=es"}, "en"),                     # a new choice beats the old
    ("/page?recipient=es", {"accept-language": "en"}, "es"),
    ("/page", {"accept-language": "es-ES,es;q=0.9"}, "es"),
    ("/page?lang=xx", {CHOSEN_LANGUAGE_HEADER: "xx", "accept-language": "de"}, "en"),
])
def test_a_request_is_answered_in_the_language_the_rule_gives(url, headers, expected):
    with TestClient(Litestar([page])) as http:
        assert http.get(url, headers=headers).text == expected
