"""Rendering guest pages: one Jinja environment per service over its templates and the kit's, the context the
kit's base template needs, and the routes of the kit's assets.

A service's templates extend ``guest/base.html`` (skip link, the firm's name and logo, the language switcher,
``main``, the firm's contact) and may use ``guest/error.html``. Nothing inline: the gateway's CSP forbids inline
script and style, so the stylesheets are files, the firm's colour included.

The environment serves every language at once: the i18n extension's callables translate into the language
named in each page's context (``install_gettext_translations`` would bind one catalog to the whole
environment). They are installed "newstyle", so placeholders are filled after translation and their values are
escaped: a firm's name cannot put markup into a translated sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from litestar import Response, get
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from loginless.shared.branding import Branding
from loginless.shared.guest.branding import brand_stylesheet, brand_stylesheet_name
from loginless.shared.guest.i18n import (
    KIT_CATALOG,
    LANGUAGE_NAMES,
    MessageCatalog,
    format_date,
    format_date_time,
    format_size,
    supported,
    translations,
)
from loginless.shared.guest.language import language_of
from loginless.shared.web.assertion import FORWARDED_PREFIX_HEADER

KIT_TEMPLATES = Path(__file__).parent / "templates"
KIT_STATIC = Path(__file__).parent / "static"
KIT_TEMPLATE_PREFIX = "guest"  # the kit's templates are "guest/base.html", "guest/error.html", ...
NO_STORE = {"Cache-Control": "no-store"}
_BRAND_FILE = re.compile(r"^([0-9a-f]{6})\.css$")
_PLAIN_PATH = re.compile(r"^/[A-Za-z0-9/_.~-]{0,200}$")


def _language(context: Context) -> str:
    return supported(context.get("language"))


def install_translations(environment: Environment, catalogs: tuple[MessageCatalog, ...]) -> None:
    """Jinja's i18n extension, translating from ``catalogs`` into each page's ``language``, and the ``date``,
    ``date_time`` and ``size`` filters in that language."""

    @pass_context
    def gettext(context: Context, message: str) -> str:
        return translations(_language(context), catalogs).gettext(message)

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, count: int) -> str:
        return translations(_language(context), catalogs).ngettext(singular, plural, count)

    @pass_context
    def pgettext(context: Context, message_context: str, message: str) -> str:
        return translations(_language(context), catalogs).pgettext(message_context, message)

    @pass_context
    def npgettext(context: Context, message_context: str, singular: str, plural: str, count: int) -> str:
        return translations(_language(context), catalogs).npgettext(message_context, singular, plural, count)

    environment.add_extension("jinja2.ext.i18n")
    environment.policies["ext.i18n.trimmed"] = True  # as extracted (babel.cfg): whitespace never changes a msgid
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext)
    environment.filters["date"] = pass_context(lambda context, moment: format_date(moment, _language(context)))
    environment.filters["date_time"] = pass_context(
        lambda context, moment: format_date_time(moment, _language(context)))
    environment.filters["size"] = pass_context(lambda context, size: format_size(size, _language(context)))


def guest_environment(templates: Path | None = None, *,
                      catalogs: tuple[MessageCatalog, ...] = (KIT_CATALOG,)) -> Environment:
    """The environment of a service's guest pages: its own ``templates`` (if any) and the kit's under ``guest/``;
    ``catalogs`` in the order they are asked, the service's own before the kit's."""
    loaders: list[BaseLoader] = [FileSystemLoader(templates)] if templates is not None else []
    loaders.append(PrefixLoader({KIT_TEMPLATE_PREFIX: FileSystemLoader(KIT_TEMPLATES)}))
    environment = Environment(loader=ChoiceLoader(loaders), autoescape=True, undefined=StrictUndefined)
    install_translations(environment, catalogs)
    return environment


def mail_environment(package: str, *, catalogs: tuple[MessageCatalog, ...]) -> Environment:
    """The environment of a service's e-mails: its package's ``templates/`` and the kit's mail layout under
    ``guest/mail/`` (``base.html`` with the firm's branding and contact, ``contact.txt`` for the plain part).

    E-mails keep a layout of their own rather than the pages' base template: mail clients want tables and inline
    styles, which the pages' CSP forbids."""
    loader = ChoiceLoader([PackageLoader(package, "templates"),
                           PrefixLoader({KIT_TEMPLATE_PREFIX: FileSystemLoader(KIT_TEMPLATES)})])
    environment = Environment(loader=loader, autoescape=select_autoescape(enabled_extensions=("html",),
                                                                          default_for_string=False),
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    install_translations(environment, catalogs)
    return environment


def guest_template_config(templates: Path | None = None, *,
                          catalogs: tuple[MessageCatalog, ...] = (KIT_CATALOG,)) -> TemplateConfig:
    """The ``template_config`` of a service's app (see :func:`guest_environment`)."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(guest_environment(templates,
                                                                                          catalogs=catalogs)))


def page_context(*, language: str, branding: Branding | None, asset_prefix: str, switcher: bool = True,
                 **values: Any) -> dict[str, Any]:
    """What ``guest/base.html`` needs, and the page's own ``values``.

    ``branding`` None: a page that must not say whose link it is (an unknown link). ``asset_prefix``: the path
    under which the guest's browser reaches :func:`guest_asset_routes` (``/_gateway`` on the gateway, the
    ``X-Forwarded-Prefix`` the gateway sends a service). ``switcher`` False hides the language switcher.
    """
    return {"language": supported(language), "languages": list(LANGUAGE_NAMES.items()), "branding": branding,
            "brand_stylesheet": brand_stylesheet_name(branding), "asset_prefix": asset_prefix,
            "switcher": switcher, **values}


def service_page_context(connection: ASGIConnection, *, recipient_language: str | None, branding: Branding | None,
                         catalogs: tuple[MessageCatalog, ...], unnamed_firm: str, **values: Any) -> dict[str, Any]:
    """A service's guest page behind the gateway: :func:`page_context` in the guest's language (the recipient's
    first), with ``prefix`` for the page's own links, ``firm`` for its sentences (the firm's name, else
    ``unnamed_firm`` in that language, from the service's ``catalogs``) and ``lang`` for its formatting."""
    language = language_of(connection, recipient=recipient_language)
    prefix = forwarded_prefix(connection)
    firm = branding.name if branding else translations(language, catalogs).gettext(unnamed_firm)
    return page_context(language=language, branding=branding, asset_prefix=prefix, prefix=prefix, firm=firm,
                        lang=language, **values)


def forwarded_prefix(connection: ASGIConnection) -> str:
    """The path under which the gateway shows this service's ``/guest`` to the guest (``/g/{link_id}``), as the
    gateway says in ``X-Forwarded-Prefix``; only a plain path is accepted, because it ends up in pages."""
    prefix = connection.headers.get(FORWARDED_PREFIX_HEADER, "").rstrip("/")
    return prefix if _PLAIN_PATH.match(prefix or "/") else ""


def guest_asset_routes(path: str, *, static_directories: Sequence[Path] = (),
                       name: str = "guest") -> list[ControllerRouterHandler]:
    """The kit's stylesheets under ``{path}/static/`` (a service's own ``static_directories`` first, so a service
    adds files beside ``guest.css``) and the firm's colour at ``{path}/brand/{rrggbb}.css``. Neither is about a
    guest, so neither needs the gateway's assertion."""

    @get(f"{path}/brand/{{file:str}}", media_type="text/css", include_in_schema=False, name=f"{name}-brand")
    async def brand_colour_stylesheet(file: FromPath[str]) -> Response[str]:
        match = _BRAND_FILE.match(file)
        if match is None:
            return Response("", status_code=404, media_type="text/css")
        return Response(brand_stylesheet(f"#{match.group(1)}"), media_type="text/css",
                        headers={"Cache-Control": "public, max-age=86400"})

    static = create_static_files_router(
        path=f"{path}/static", directories=[*static_directories, KIT_STATIC], include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86400, private=True), name=f"{name}-static")
    return [brand_colour_stylesheet, static]
