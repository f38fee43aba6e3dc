"""The e-mails and SMS links sends, in the recipient's language (English or Spanish), with the firm's branding.

Every message is marked for gettext where it is written -- the e-mails' bodies in ``templates/``, subjects and SMS
here -- and translated from links' catalog (``locales/es/LC_MESSAGES/links.po``), then the guest-page kit's (dates,
month names): docs/guest-pages.md. Every e-mail has a plain-text part and an HTML part in the kit's mail layout,
names the firm and how to reach it, says what the link is for, and states when it expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path

from loginless.links.domain import CODE_LIFETIME, Link
from loginless.links.tenants import Tenant
from loginless.shared.guest.branding import DEFAULT_BRAND_COLOUR, readable_text_colour
from loginless.shared.guest.i18n import KIT_CATALOG, N_, MessageCatalog, format_date_time, supported, translations
from loginless.shared.guest.pages import mail_environment

CODE_MINUTES = int(CODE_LIFETIME.total_seconds() // 60)
LINKS_CATALOG = MessageCatalog("links", Path(__file__).parent / "locales")
CATALOGS = (LINKS_CATALOG, KIT_CATALOG)

# What each action's link is for, fitted into "a secure link to ..." in each language.
PURPOSES = {
    "view": N_("view and download a document"),
    "upload": N_("upload documents"),
    "sign": N_("sign a document"),
    "pay": N_("pay an invoice"),
    "request": N_("answer a request"),
}

_templates = mail_environment("loginless.links", catalogs=CATALOGS)


def language_of(link: Link) -> str:
    """The recipient's language, or the one every message is written in when the firm gave none."""
    return supported(link.recipient.language)


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    link_id: str


class MessageComposer:
    def __init__(self, sender: str) -> None:
        """``sender``: LINKS_SMTP_FROM; its address is used with the firm's name as the display name."""
        self._sender_address = parseaddr(sender)[1] or sender

    def link_email(self, tenant: Tenant, link: Link, url: str, *, reminder: bool = False) -> EmailMessage:
        """The link's e-mail; a ``reminder`` sends the same link again, saying the firm is still waiting."""
        messages = translations(language_of(link), CATALOGS)
        purpose = messages.gettext(PURPOSES[link.action])
        subject = (messages.gettext("%(firm)s: a reminder of your secure link to %(purpose)s") if reminder
                   else messages.gettext("%(firm)s: a secure link to %(purpose)s")) % {"firm": tenant.name,
                                                                                          "purpose": purpose}
        context = self._context(tenant, link) | {
            "name": link.recipient.name, "purpose": purpose, "url": url, "expires_at": link.expires_at,
            "max_uses": link.max_uses, "verification": link.verification, "reminder": reminder,
        }
        return self._email(tenant, link, subject, "link_email", context)

    def code_email(self, tenant: Tenant, link: Link, code: str) -> EmailMessage:
        messages = translations(language_of(link), CATALOGS)
        subject = messages.gettext("%(firm)s: your verification code") % {"firm": tenant.name}
        context = self._context(tenant, link) | {"code": code, "minutes": CODE_MINUTES}
        return self._email(tenant, link, subject, "code_email", context)

    def link_sms(self, tenant: Tenant, link: Link, url: str, *, reminder: bool = False) -> SmsMessage:
        language = language_of(link)
        messages = translations(language, CATALOGS)
        text = (messages.gettext("%(firm)s, a reminder: your secure link to %(purpose)s, valid until %(date)s: "
                                 "%(url)s") if reminder
                else messages.gettext("%(firm)s: a secure link to %(purpose)s, valid until %(date)s: %(url)s"))
        body = text % {
            "firm": tenant.name, "purpose": messages.gettext(PURPOSES[link.action]),
            "date": format_date_time(link.expires_at, language), "url": url}
        return SmsMessage(to=str(link.recipient.phone), body=body, link_id=link.link_id)

    def code_sms(self, tenant: Tenant, link: Link, code: str) -> SmsMessage:
        messages = translations(language_of(link), CATALOGS)
        body = messages.ngettext(
            "%(firm)s: your verification code is %(code)s. It is valid for %(count)s minute.",
            "%(firm)s: your verification code is %(code)s. It is valid for %(count)s minutes.",
            CODE_MINUTES) % {"firm": tenant.name, "code": code, "count": CODE_MINUTES}
        return SmsMessage(to=str(link.recipient.phone), body=body, link_id=link.link_id)

    @staticmethod
    def _context(tenant: Tenant, link: Link) -> dict[str, object]:
        color = tenant.color or DEFAULT_BRAND_COLOUR
        return {"language": language_of(link), "tenant": tenant, "color": color,
                "button_text_color": readable_text_colour(color)}

    def _email(self, tenant: Tenant, link: Link, subject: str, template: str,
               context: dict[str, object]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = formataddr((tenant.name, self._sender_address))
        message["To"] = formataddr((link.recipient.name or "", str(link.recipient.email)))
        if tenant.contact_email:
            message["Reply-To"] = formataddr((tenant.contact_name or tenant.name, tenant.contact_email))
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self._sender_address.rpartition("@")[2] or None)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(_templates.get_template(f"{template}.txt").render(context))
        message.add_alternative(_templates.get_template(f"{template}.html").render(context), subtype="html")
        message["Content-Language"] = language_of(link)  # after the parts: set_content drops Content-*
        return message

