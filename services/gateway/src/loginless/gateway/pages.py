"""The gateway's own guest pages: what a guest sees when a link cannot (yet) take them to the service."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.response import Template

from loginless.gateway.i18n import LANGUAGE_COOKIE, LANGUAGES, negotiate_language
from loginless.gateway.runtime import gateway_runtime
from loginless.shared.branding import Branding

_HEX_COLOUR = re.compile(r"^#?([0-9a-fA-F]{6})$")
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


def page_language(request: Request) -> str:
    return negotiate_language(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE),
                              request.headers.get("accept-language"))


def brand_colour(branding: Branding | None) -> str | None:
    """The firm's colour as six hex digits (the brand stylesheet's URL), or None if it has none usable."""
    match = _HEX_COLOUR.match(branding.color or "") if branding else None
    return match.group(1).lower() if match else None


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def mask_phone(phone: str) -> str:
    digits = [character for character in phone if character.isdigit()]
    return f"••• {''.join(digits[-3:])}" if len(digits) >= 3 else "•••"


def render_page(
    request: Request,
    template: str,
    *,
    status_code: int,
    branding: Branding | None = None,
    cookies: Iterable[Cookie] = (),
    headers: dict[str, str] | None = None,
    language_switcher: bool = True,
    **context: Any,
) -> Template:
    """A guest page in the guest's language, with the firm's branding when known."""
    language = page_language(request)
    cookies = list(cookies)
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:  # remember the switcher's choice for the next pages, including the services' pages
        cookies.append(Cookie(key=LANGUAGE_COOKIE, value=chosen, path="/", max_age=LANGUAGE_COOKIE_SECONDS,
                              httponly=True, secure=gateway_runtime(request).settings.secure_cookies,
                              samesite="lax"))
    return Template(
        template_name=template,
        context={"language": language, "languages": LANGUAGES, "branding": branding,
                 "brand_colour": brand_colour(branding), "language_switcher": language_switcher, **context},
        status_code=status_code,
        cookies=cookies,
        headers=headers,
        media_type=MediaType.HTML,
    )
