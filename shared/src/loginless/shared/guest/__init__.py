"""The guest-page kit: what every page a guest reads shares, whichever service renders it.

- ``i18n``: gettext catalogs (English source, Spanish translations) and dates and sizes written per language;
- ``language``: the one rule that picks a page's language;
- ``pages``: the Jinja environment with the kit's base template, the context every page needs, its assets;
- ``branding``: the firm's colour as a stylesheet, with a text colour that stays readable on it;
- ``address``: the guest's address behind trusted reverse proxies;
- ``problems``: the error page's words, chosen by the problem type;
- ``placeholder``: the page of a service whose own guest pages are not built yet.

docs/guest-pages.md says how a service uses it.
"""
