"""The e-mails notifications writes: owner alerts and daily digests, and receipts to guests who uploaded files,
answered a request or paid (with the payment's receipt PDF attached).

Each is composed once, when its batch is due, into a whole RFC 5322 message with a Message-ID of its own, and
queued; every attempt then sends those same bytes. In the recipient's language, with the firm's branding, a
plain-text and an HTML part in the kit's mail layout. Alerts and digests carry ``List-Unsubscribe`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058): a mail client's unsubscribe button posts to
the link and the address stops getting the tenant's alerts. A receipt answers what the guest did, so it has none.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Literal

from loginless.events.payloads.notifications import NotificationKind
from loginless.shared.branding import Branding
from loginless.shared.guest.branding import DEFAULT_BRAND_COLOUR, readable_text_colour
from loginless.shared.guest.i18n import KIT_CATALOG, N_, MessageCatalog, format_date, supported, translations
from loginless.shared.guest.pages import mail_environment

NOTIFICATIONS_CATALOG = MessageCatalog("notifications", Path(__file__).parent / "locales")
CATALOGS = (NOTIFICATIONS_CATALOG, KIT_CATALOG)

What = Literal["viewed", "downloaded", "uploaded", "signed", "declined", "paid", "answered", "received"]

# The owner's alert subject for a batch whose facts are all of one kind.
ALERT_SUBJECTS: dict[What, str] = {
    "viewed": N_("%(firm)s: a shared document was viewed"),
    "downloaded": N_("%(firm)s: a shared document was downloaded"),
    "uploaded": N_("%(firm)s: files were uploaded"),
    "signed": N_("%(firm)s: a document was signed"),
    "declined": N_("%(firm)s: a signer declined to sign"),
    "answered": N_("%(firm)s: a request was answered"),
    "paid": N_("%(firm)s: an invoice was paid"),
}

_templates = mail_environment("loginless.notifications", catalogs=CATALOGS)
# Lines up to SMTP's limit: a header such as List-Unsubscribe must stay one plain token, never folded into encoded
# words that mail clients would not read as a URL.
MAIL_POLICY = default_policy.clone(max_line_length=998)


@dataclass(frozen=True)
class Fact:
    """One thing that happened, as an alert, a digest or a receipt lists it (kept as JSON in ``mail_items``)."""

    what: What
    at: datetime
    subject: str  # the document's or file's name, or the invoice's id
    who: str | None = None  # "Ana Ortiz <ana@example.com>", as far as it is known
    size: int | None = None
    sha256: str | None = None
    amount: str | None = None  # "1,234.50 EUR", already formatted
    reason: str | None = None  # a signer's, for declining

    def as_item(self) -> dict[str, Any]:
        return {"what": self.what, "at": self.at.isoformat(), "subject": self.subject, "who": self.who,
                "size": self.size, "sha256": self.sha256, "amount": self.amount, "reason": self.reason}

    @classmethod
    def of_item(cls, item: dict[str, Any]) -> Fact:
        return cls(**{**item, "at": datetime.fromisoformat(item["at"])})


FACT_FIELDS = frozenset(field.name for field in fields(Fact))


@dataclass(frozen=True)
class ComposedMail:
    message: EmailMessage
    message_id: str


class MailComposer:
    def __init__(self, sender: str) -> None:
        """``sender``: NOTIFICATIONS_SMTP_FROM; its address is used with the firm's name as the display name."""
        self.sender_address = parseaddr(sender)[1] or sender

    def owner_alert(self, branding: Branding, to: str, language: str, facts: list[Fact], *,
                    unsubscribe_url: str) -> ComposedMail:
        messages = translations(supported(language), CATALOGS)
        kinds = {fact.what for fact in facts}
        subject_text = ALERT_SUBJECTS[facts[0].what] if len(kinds) == 1 else N_("%(firm)s: new activity")
        subject = messages.gettext(subject_text) % {"firm": branding.name}
        return self._compose("owner_alert", branding, to, language, subject, facts, unsubscribe_url=unsubscribe_url)

    def owner_digest(self, branding: Branding, to: str, language: str, facts: list[Fact], *, until: datetime,
                     unsubscribe_url: str) -> ComposedMail:
        messages = translations(supported(language), CATALOGS)
        subject = messages.gettext("%(firm)s: daily summary, %(date)s") % {
            "firm": branding.name, "date": format_date(until, supported(language))}
        return self._compose("owner_digest", branding, to, language, subject, facts, until=until,
                             unsubscribe_url=unsubscribe_url)

    def upload_receipt(self, branding: Branding, to: str, language: str, facts: list[Fact], *,
                       name: str | None) -> ComposedMail:
        messages = translations(supported(language), CATALOGS)
        subject = messages.ngettext("%(firm)s: we received your file", "%(firm)s: we received your %(count)s files",
                                    len(facts)) % {"firm": branding.name, "count": len(facts)}
        return self._compose("upload_receipt", branding, to, language, subject, facts, name=name)

    def request_receipt(self, branding: Branding, to: str, language: str, fact: Fact, *,
                        name: str | None) -> ComposedMail:
        messages = translations(supported(language), CATALOGS)
        subject = messages.gettext("%(firm)s: we received your answers") % {"firm": branding.name}
        return self._compose("request_receipt", branding, to, language, subject, [fact], name=name)

    def payment_receipt(self, branding: Branding, to: str, language: str, fact: Fact, *, name: str | None,
                        receipt: bytes | None, receipt_name: str) -> ComposedMail:
        """To whoever paid: the payment was received, with its receipt (PDF, drawn by payments) attached."""
        messages = translations(supported(language), CATALOGS)
        subject = messages.gettext("%(firm)s: we received your payment") % {"firm": branding.name}
        mail = self._compose("payment_receipt", branding, to, language, subject, [fact], name=name,
                             attached=receipt is not None)
        if receipt is not None:
            mail.message.add_attachment(receipt, maintype="application", subtype="pdf", filename=receipt_name)
        return mail

    def decline_notice(self, branding: Branding, to: str, language: str, fact: Fact, *,
                       name: str | None) -> ComposedMail:
        """To the other signers of an envelope a signer declined: it stopped, and there is nothing to sign."""
        messages = translations(supported(language), CATALOGS)
        subject = messages.gettext("%(firm)s: a request to sign was stopped") % {"firm": branding.name}
        return self._compose("decline_notice", branding, to, language, subject, [fact], name=name)

    def _compose(self, kind: NotificationKind, branding: Branding, to: str, language: str, subject: str,
                 facts: list[Fact], *, unsubscribe_url: str | None = None, **values: Any) -> ComposedMail:
        language = supported(language)
        color = branding.color or DEFAULT_BRAND_COLOUR
        context = {"language": language, "tenant": branding, "color": color,
                   "button_text_color": readable_text_colour(color), "facts": sorted(facts, key=lambda f: f.at),
                   "unsubscribe_url": unsubscribe_url, **values}
        domain = self.sender_address.rpartition("@")[2] or None
        message_id = make_msgid(idstring=kind.replace("_", "-"), domain=domain)
        message = EmailMessage(policy=MAIL_POLICY)
        message["Subject"] = subject
        message["From"] = formataddr((branding.name, self.sender_address))
        message["To"] = to
        if branding.contact_email:
            message["Reply-To"] = formataddr((branding.contact_name or branding.name, branding.contact_email))
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = message_id
        message["Auto-Submitted"] = "auto-generated"
        if unsubscribe_url is not None:
            message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(_templates.get_template(f"{kind}.txt").render(context))
        message.add_alternative(_templates.get_template(f"{kind}.html").render(context), subtype="html")
        message["Content-Language"] = language  # after the parts: set_content drops Content-*
        return ComposedMail(message, message_id)
