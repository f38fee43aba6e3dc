"""The e-mails and SMS links sends: language, branding, purpose, expiry, and nothing a name could inject."""

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from loginless.links.domain import Link, Recipient
from loginless.links.messages import MessageComposer
from loginless.links.tenants import Tenant

pytestmark = pytest.mark.unit

EXPIRES = datetime(2026, 3, 12, 9, 5, tzinfo=UTC)
URL = "https://guests.example.test/l/" + "T" * 43
FIRM = Tenant(tenant_id="firm", name="Ortega & Lane", logo_url="https://cdn.example.test/logo.png",
              color="#0b6e4f", contact_name="Front desk", contact_email="desk@ortega-lane.test",
              contact_phone="+34 600 111 222")


def link(language="en", name="Ana", action="sign", **changes) -> Link:
    fields = dict(link_id="link-1", tenant_id="firm", action=action, resource_id="doc-1",
                  recipient=Recipient(name, "ana@example.test", "+34600000000", language),
                  issued_at=EXPIRES, expires_at=EXPIRES, max_uses=None, verification="none", delivery="email",
                  delivery_status="pending")
    return Link(**(fields | changes))


def parts(message):
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    return parsed, parsed.get_body(("plain",)).get_content(), parsed.get_body(("html",)).get_content()


def test_a_link_email_has_both_parts_with_url_purpose_expiry_and_the_firms_branding_and_contact():
    headers, text, html = parts(MessageComposer("loginless <no-reply@links.test>").link_email(FIRM, link(), URL))
    assert headers["Subject"] == "Ortega & Lane: a secure link to sign a document"
    [sender] = headers["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Ortega & Lane", "no-reply@links.test")
    assert headers["To"] == "Ana <ana@example.test>"
    assert headers["Reply-To"] == "Front desk <desk@ortega-lane.test>"
    for part in (text, html):
        assert URL in part and "The link expires on March 12, 2026 at 09:05 UTC." in part
        assert "desk@ortega-lane.test" in part and "+34 600 111 222" in part
    assert "Hello Ana," in text
    assert "Ortega &amp; Lane" in html and 'src="https://cdn.example.test/logo.png"' in html
    assert "background:#0b6e4f" in html and "color:#ffffff" in html


def test_a_spanish_recipient_gets_everything_in_spanish():
    headers, text, html = parts(MessageComposer("no-reply@links.test").link_email(
        FIRM, link("es", "Luis", action="request", max_uses=1, verification="sms"), URL))
    assert headers["Subject"] == "Ortega & Lane: un enlace seguro para responder a una solicitud"
    assert headers["Content-Language"] == "es"
    assert 'lang="es"' in html
    for part in (text, html):
        assert "El enlace caduca el 12 de marzo de 2026 a las 09:05 UTC." in part
        assert "Solo se puede usar una vez." in part and "a su teléfono" in part
    assert "Hola, Luis:" in text


def test_names_with_markup_or_braces_stay_plain_text():
    firm = Tenant(tenant_id="firm", name="<b>{date}</b> & Co")
    _, text, html = parts(MessageComposer("no-reply@links.test").link_email(
        firm, link(name="<script>alert(1)</script> {url}"), URL))
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in html
    assert "Hello <script>alert(1)</script> {url}," in text  # plain text: shown as typed, placeholders untouched


def test_codes_are_sent_with_their_validity_in_the_recipients_language():
    composer = MessageComposer("no-reply@links.test")
    headers, text, _ = parts(composer.code_email(FIRM, link("es"), "042517"))
    assert headers["Subject"] == "Ortega & Lane: su código de verificación"
    assert "042517" in text and "10 minutos" in text
    sms = composer.code_sms(FIRM, link(), "042517")
    assert (sms.to, sms.link_id) == ("+34600000000", "link-1")
    assert sms.body == "Ortega & Lane: your verification code is 042517. It is valid for 10 minutes."


def test_a_link_sms_names_the_firm_the_purpose_the_expiry_and_the_url():
    sms = MessageComposer("no-reply@links.test").link_sms(FIRM, link("es", action="pay"), URL)
    assert sms.body == f"Ortega & Lane: enlace seguro para pagar una factura, válido hasta el 12 de marzo de 2026 " \
                       f"a las 09:05 UTC: {URL}"


def test_the_button_label_stays_readable_on_light_and_dark_brand_colours():
    light = Tenant(tenant_id="firm", name="Sunny", color="#ffee00")
    _, _, on_light = parts(MessageComposer("no-reply@links.test").link_email(light, link(), URL))
    assert "background:#ffee00;color:#000000" in on_light
    _, _, on_dark = parts(MessageComposer("no-reply@links.test").link_email(FIRM, link(), URL))
    assert "background:#0b6e4f;color:#ffffff" in on_dark


def test_a_link_usable_several_times_says_how_many_and_an_email_code_says_where_it_goes():
    _, english, _ = parts(MessageComposer("no-reply@links.test").link_email(
        FIRM, link(max_uses=3, verification="email"), URL))
    _, spanish, _ = parts(MessageComposer("no-reply@links.test").link_email(
        FIRM, link("es", max_uses=3, verification="email"), URL))
    assert "It can be used 3 times." in english and "a code we send to your e-mail" in english
    assert "Se puede usar 3 veces." in spanish and "a su correo" in spanish


def test_a_recipient_without_a_name_is_greeted_all_the_same():
    _, english, _ = parts(MessageComposer("no-reply@links.test").link_email(FIRM, link(name=None), URL))
    _, spanish, _ = parts(MessageComposer("no-reply@links.test").link_email(FIRM, link("es", name=None), URL))
    assert english.startswith("Hello,\n") and spanish.startswith("Hola:\n")


def test_names_with_percent_signs_and_placeholders_stay_as_typed_in_the_subject_and_sms():
    firm = Tenant(tenant_id="firm", name="100% %(purpose)s Tax")
    headers, _, _ = parts(MessageComposer("no-reply@links.test").link_email(firm, link(), URL))
    assert headers["Subject"] == "100% %(purpose)s Tax: a secure link to sign a document"
    sms = MessageComposer("no-reply@links.test").code_sms(firm, link("es"), "042517")
    assert sms.body == "100% %(purpose)s Tax: su código de verificación es 042517. Es válido durante 10 minutos."
