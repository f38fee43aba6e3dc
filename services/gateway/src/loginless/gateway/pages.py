"""The gateway's own guest pages: what a guest sees when a link cannot (yet) take them to the service."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.response import Template
from litestar.types import Scope

from loginless.gateway.admission import cookie_values
from loginless.gateway.runtime import gateway_runtime
from loginless.shared.branding import Branding
from loginless.shared.guest.i18n import LANGUAGES
from loginless.shared.guest.language import (
    LANGUAGE_COOKIE,
    LANGUAGE_QUERY,
    chosen_in_query,
    language_cookie,
    language_of,
)
from loginless.shared.guest.pages import page_context
from loginless.shared.guest.problems import GuestProblem

ASSET_PREFIX = "/_gateway"  # where guest_asset_routes serve the kit's stylesheets and the firm's colour


def language_chosen_by_guest(scope: Scope) -> str | None:
    """The guest's choice as the gateway passes it on: ``?lang=`` now, else the one its cookie remembers. Never an
    ``X-Loginless-Language`` the guest sent: that header is the gateway's word to the services."""
    return chosen_in_query(scope.get("query_string", b"")) or next(
        (value for value in cookie_values(scope, LANGUAGE_COOKIE) if value in LANGUAGES), None)


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
    recipient_language: str | None = None,
    cookies: Iterable[Cookie] = (),
    headers: dict[str, str] | None = None,
    language_switcher: bool = True,
    **context: Any,
) -> Template:
    """A guest page in the guest's language (the kit's rule; ``recipient_language`` when the link is known), with
    the firm's branding when known."""
    cookies = list(cookies)
    chosen = request.query_params.get(LANGUAGE_QUERY)
    if chosen in LANGUAGES:
        cookies.append(language_cookie(chosen, secure=gateway_runtime(request).settings.secure_cookies))
    return Template(
        template_name=template,
        context=page_context(language=language_of(request, recipient=recipient_language), branding=branding,
                             asset_prefix=ASSET_PREFIX, switcher=language_switcher, **context),
        status_code=status_code,
        cookies=cookies,
        headers=headers,
        media_type=MediaType.HTML,
    )


def render_problem(request: Request, problem: GuestProblem, *, status_code: int, template: str = "guest/error.html",
                   **options: Any) -> Template:
    """An error page with the kit's words for ``problem`` (a template of the gateway's may say more)."""
    return render_page(request, template, status_code=status_code, problem=problem, **options)
