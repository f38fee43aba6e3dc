"""The e-mails and SMS links sends, in the recipient's language (English or Spanish), with the firm's branding.

Wording lives in ``TEXTS`` (one entry per language, the same keys in each); layout lives in ``templates/``.
Every e-mail has a plain-text part and an HTML part, names the firm and how to reach it, says what the link is
for, and states when it expires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from loginless.links.domain import CODE_LIFETIME, Language, Link
from loginless.links.tenants import Tenant

CODE_MINUTES = int(CODE_LIFETIME.total_seconds() // 60)

TEXTS: dict[Language, dict[str, str]] = {
    "en": {
        "purpose.view": "view and download a document",
        "purpose.upload": "upload documents",
        "purpose.sign": "sign a document",
        "purpose.pay": "pay an invoice",
        "purpose.request": "answer a request",
        "link.subject": "{firm}: a secure link to {purpose}",
        "greeting": "Hello,",
        "greeting.named": "Hello {name},",
        "link.intro": "{firm} has sent you a secure link to {purpose}.",
        "link.open": "Open the link",
        "link.expires": "The link expires on {date}.",
        "link.uses.one": "It can be used once.",
        "link.uses.many": "It can be used {count} times.",
        "link.verification.email": "Before anything is shown, you will be asked for a code we send to your e-mail.",
        "link.verification.sms": "Before anything is shown, you will be asked for a code we send to your phone.",
        "link.private": "Anyone who has this link can use it: please do not forward this message.",
        "link.unexpected": "If you did not expect this message, you can ignore it.",
        "contact": "Questions? Contact {firm}:",
        "code.subject": "{firm}: your verification code",
        "code.intro": "Your verification code is:",
        "code.validity": f"It is valid for {CODE_MINUTES} minutes. Enter it on the page that asked for it.",
        "code.unexpected": "If you did not try to open a link from {firm}, ignore this message.",
        "sms.link": "{firm}: a secure link to {purpose}, valid until {date}: {url}",
        "sms.code": f"{{firm}}: your verification code is {{code}}. It is valid for {CODE_MINUTES} minutes.",
        "date": "{month} {day}, {year} at {time} UTC",
    },
    "es": {
        "purpose.view": "ver y descargar un documento",
        "purpose.upload": "subir documentos",
        "purpose.sign": "firmar un documento",
        "purpose.pay": "pagar una factura",
        "purpose.request": "responder a una solicitud",
        "link.subject": "{firm}: un enlace seguro para {purpose}",
        "greeting": "Hola:",
        "greeting.named": "Hola, {name}:",
        "link.intro": "{firm} le ha enviado un enlace seguro para {purpose}.",
        "link.open": "Abrir el enlace",
        "link.expires": "El enlace caduca el {date}.",
        "link.uses.one": "Solo se puede usar una vez.",
        "link.uses.many": "Se puede usar {count} veces.",
        "link.verification.email": "Antes de mostrarle nada, le pediremos un código que enviaremos a su correo.",
        "link.verification.sms": "Antes de mostrarle nada, le pediremos un código que enviaremos a su teléfono.",
        "link.private": "Cualquier persona que tenga este enlace puede usarlo: por favor, no reenvíe este mensaje.",
        "link.unexpected": "Si no esperaba este mensaje, puede ignorarlo.",
        "contact": "¿Preguntas? Contacte con {firm}:",
        "code.subject": "{firm}: su código de verificación",
        "code.intro": "Su código de verificación es:",
        "code.validity": f"Es válido durante {CODE_MINUTES} minutos. Introdúzcalo en la página que se lo ha pedido.",
        "code.unexpected": "Si no ha intentado abrir un enlace de {firm}, ignore este mensaje.",
        "sms.link": "{firm}: enlace seguro para {purpose}, válido hasta el {date}: {url}",
        "sms.code": f"{{firm}}: su código de verificación es {{code}}. Es válido durante {CODE_MINUTES} minutos.",
        "date": "{day} de {month} de {year} a las {time} UTC",
    },
}

MONTHS: dict[Language, tuple[str, ...]] = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"),
}

DEFAULT_COLOR = "#1f5f8b"

_templates = Environment(
    loader=PackageLoader("loginless.links", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def format_date(moment: datetime, language: Language) -> str:
    """A date people read at a glance, in UTC so that it is exact whatever the reader's time zone."""
    utc = moment.astimezone(UTC)
    return TEXTS[language]["date"].format(day=utc.day, month=MONTHS[language][utc.month - 1], year=utc.year,
                                          time=utc.strftime("%H:%M"))


def text_color_on(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (#rrggbb), for the button label."""
    red, green, blue = (int(background[i:i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "#000000" if luminance > 0.5 else "#ffffff"


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    link_id: str


class MessageComposer:
    def __init__(self, sender: str) -> None:
        """``sender``: LINKS_SMTP_FROM; its address is used with the firm's name as the display name."""
        self._sender_address = parseaddr(sender)[1] or sender

    def link_email(self, tenant: Tenant, link: Link, url: str) -> EmailMessage:
        language = link.recipient.language
        texts = self._texts(tenant, link)
        uses = None
        if link.max_uses == 1:
            uses = texts["link.uses.one"]
        elif link.max_uses is not None:
            uses = _fill(texts["link.uses.many"], count=str(link.max_uses))
        verification = texts[f"link.verification.{link.verification}"] if link.verification != "none" else None
        context = self._context(tenant, language, texts) | {
            "greeting": (_fill(texts["greeting.named"], name=link.recipient.name) if link.recipient.name
                         else texts["greeting"]),
            "url": url, "expires": _fill(texts["link.expires"], date=format_date(link.expires_at, language)),
            "uses": uses, "verification": verification,
        }
        return self._email(tenant, link, texts["link.subject"], "link_email", context)

    def code_email(self, tenant: Tenant, link: Link, code: str) -> EmailMessage:
        texts = self._texts(tenant, link)
        context = self._context(tenant, link.recipient.language, texts) | {"code": code}
        return self._email(tenant, link, texts["code.subject"], "code_email", context)

    def link_sms(self, tenant: Tenant, link: Link, url: str) -> SmsMessage:
        texts = self._texts(tenant, link)
        date = format_date(link.expires_at, link.recipient.language)
        return SmsMessage(to=str(link.recipient.phone), body=_fill(texts["sms.link"], date=date, url=url),
                          link_id=link.link_id)

    def code_sms(self, tenant: Tenant, link: Link, code: str) -> SmsMessage:
        return SmsMessage(to=str(link.recipient.phone), body=_fill(self._texts(tenant, link)["sms.code"], code=code),
                          link_id=link.link_id)

    @staticmethod
    def _texts(tenant: Tenant, link: Link) -> dict[str, str]:
        """The recipient's texts with the firm and the purpose filled in (``{firm}``, ``{purpose}``)."""
        texts = TEXTS[link.recipient.language]
        purpose = texts[f"purpose.{link.action}"]
        return {key: _fill(value, firm=tenant.name, purpose=purpose) for key, value in texts.items()}

    @staticmethod
    def _context(tenant: Tenant, language: Language, texts: dict[str, str]) -> dict[str, object]:
        color = tenant.color or DEFAULT_COLOR
        return {"language": language, "t": texts, "tenant": tenant, "color": color,
                "button_text_color": text_color_on(color)}

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
        message["Content-Language"] = link.recipient.language  # after the parts: set_content drops Content-*
        return message


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(text: str, **values: str) -> str:
    """Fill the placeholders given and keep the others (``{date}``…) for later. No ``str.format``: braces in a
    firm's or recipient's name are text, never a format field."""
    return _PLACEHOLDER.sub(lambda match: values.get(match[1], match[0]), text)
