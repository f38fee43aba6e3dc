"""The documents domain without I/O: type sniffing, names, dispositions, limits, decisions, languages."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from loginless.documents import domain, filetypes, i18n
from loginless.documents.uploads import parse_metadata
from loginless.shared.errors import InvalidRequest

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("head", "name", "mime"), [
    (b"%PDF-1.7\n", "x.bin", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n....", "", "image/png"),
    (b"\xff\xd8\xff\xe0..JFIF", "", "image/jpeg"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "", "image/webp"),
    (b"\x00\x00\x00\x18ftypheic\x00", "", "image/heic"),
    (b"PK\x03\x04" + b"\x00" * 26 + b"[Content_Types].xml....word/document.xml", "",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/vnd.oasis.opendocument.textPK", "",
     "application/vnd.oasis.opendocument.text"),
    (b"PK\x03\x04" + b"\x00" * 40, "", "application/zip"),
    (b"name,amount\nana,10\n", "figures.csv", "text/csv"),
    (b"just some notes\n", "notes.pdf", "text/plain"),  # the name cannot make text a PDF
    ("Año fiscal €".encode(), "", "text/plain"),
    (b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", "a.png", "image/svg+xml"),
    (b"  <!DOCTYPE html><html>", "a.txt", "text/html"),
    (b"<?xml version='1.0'?><invoice/>", "", "application/xml"),
    (b"\x00\x01\x02\x03", "a.pdf", "application/octet-stream"),
    (b"", "", "application/octet-stream"),
])
def test_types_come_from_the_bytes(head, name, mime):
    assert filetypes.sniff(head, name=name).mime == mime


@pytest.mark.parametrize("head", [b"MZ\x90\x00", b"\x7fELF\x02", b"\xcf\xfa\xed\xfe", b"#!/bin/sh\nrm -rf /"])
def test_executables_are_recognised_whatever_their_name(head):
    sniffed = filetypes.sniff(head, name="invoice.pdf")
    assert sniffed.executable


def test_a_multibyte_character_cut_at_the_end_of_the_sample_is_still_text():
    assert filetypes.sniff("ñandú".encode()[:-1]).mime == "text/plain"


def test_type_families():
    assert filetypes.type_allowed("image/png", ["image/*"])
    assert not filetypes.type_allowed("application/pdf", ["image/*"])


@pytest.mark.parametrize(("raw", "shown"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\ana\\Desktop\\renta.pdf", "renta.pdf"),
    ("tab\there\nnew.pdf", "tabherenew.pdf"),
    ("evil\u202etxt.exe", "eviltxt.exe"),
    ("   .hidden.pdf  ", "hidden.pdf"),
    ("trailing. . .", "trailing"),
    ("", "file"),
    (None, "file"),
    ("Cafe\u0301.pdf", "Café.pdf"),  # NFC
])
def test_display_names_are_sanitized(raw, shown):
    assert domain.sanitize_display_name(raw) == shown


def test_long_names_keep_their_extension():
    name = domain.sanitize_display_name("x" * 300 + ".xlsx")
    assert len(name) == domain.MAX_DISPLAY_NAME and name.endswith(".xlsx")
    no_extension = domain.sanitize_display_name("y" * 300)
    assert no_extension == "y" * domain.MAX_DISPLAY_NAME


def test_content_disposition_follows_rfc_6266():
    header = domain.content_disposition("attachment", 'Año "fiscal"; 100%.pdf')
    assert header == ("attachment; filename=\"A_o _fiscal__ 100_.pdf\"; "
                      "filename*=UTF-8''A%C3%B1o%20%22fiscal%22%3B%20100%25.pdf")


@pytest.mark.parametrize(("mime", "disposition"), [
    ("application/pdf", "inline"), ("image/png", "inline"), ("image/jpeg", "inline"),
    ("image/svg+xml", "attachment"), ("text/html", "attachment"), ("application/xml", "attachment"),
    ("text/javascript", "attachment"), ("text/plain", "attachment"), ("application/octet-stream", "attachment"),
])
def test_only_pdf_and_raster_images_are_ever_inline(mime, disposition):
    assert domain.serving_disposition(mime) == disposition


def linked(email: str = "guest@example.test", link_id: str = "lnk_1", status: str = "active") -> domain.RecipientLink:
    return domain.RecipientLink(email=email, link_id=link_id, status=status)


def upload_request(**changes) -> domain.UploadRequest:
    values = dict(upload_request_id="upr_1", tenant_id="t", account_id="act_1", folder_id="fld_1",
                  limits=domain.UploadLimits(max_file_size=100, allowed_types=("application/pdf",), max_files=2),
                  deadline=NOW + timedelta(days=1), recipients=(linked(),), status="active")
    values.update(changes)
    return domain.UploadRequest(**values)


def test_new_files_are_checked_against_the_links_limits():
    request = upload_request()
    domain.check_new_file(request, length=100, files_so_far=1)
    with pytest.raises(domain.TooLarge):
        domain.check_new_file(request, length=101, files_so_far=0)
    with pytest.raises(domain.EmptyFile):
        domain.check_new_file(request, length=0, files_so_far=0)
    with pytest.raises(domain.TooManyFiles):
        domain.check_new_file(request, length=1, files_so_far=2)
    with pytest.raises(domain.UnsupportedType):
        domain.check_file_type(request, filetypes.sniff(b"\x89PNG\r\n\x1a\n"))
    with pytest.raises(domain.UnsupportedType):
        domain.check_file_type(upload_request(limits=domain.UploadLimits(100, ("*/*", "application/*"), 2)),
                               filetypes.sniff(b"MZ"))


def test_uploads_stop_at_the_deadline_on_revocation_and_for_a_revoked_or_unknown_link():
    assert domain.check_open_for_uploads(upload_request(), "lnk_1", NOW)
    with pytest.raises(domain.Gone) as late:
        domain.check_open_for_uploads(upload_request(deadline=NOW), "lnk_1", NOW)
    assert late.value.extra["reason"] == "deadline"
    with pytest.raises(domain.Gone) as expired:
        domain.check_open_for_uploads(upload_request(recipients=(linked(status="expired"),)), "lnk_1", NOW)
    assert expired.value.extra["reason"] == "deadline"
    for ended in (upload_request(status="revoked"), upload_request(recipients=(linked(status="revoked"),))):
        with pytest.raises(domain.Gone):
            domain.check_open_for_uploads(ended, "lnk_1", NOW)
    with pytest.raises(domain.NotFound):
        domain.check_open_for_uploads(upload_request(), "lnk_other", NOW)


def test_upload_limits_have_defaults_and_a_ceiling():
    limits = domain.decide_upload_limits(max_file_size=None, allowed_types=None, max_files=None, default_size=10,
                                         size_ceiling=100, default_max_files=3)
    assert (limits.max_file_size, limits.max_files) == (10, 3)
    assert "application/pdf" in limits.allowed_types
    with pytest.raises(InvalidRequest):
        domain.decide_upload_limits(max_file_size=101, allowed_types=None, max_files=None, default_size=10,
                                    size_ceiling=100, default_max_files=3)
    with pytest.raises(InvalidRequest):
        domain.decide_upload_limits(max_file_size=None, allowed_types=["not a type"], max_files=None,
                                    default_size=10, size_ceiling=100, default_max_files=3)


def account(**changes) -> domain.Account:
    values = dict(account_id="act_1", tenant_id="t", name="Ana", email="ana@example.test", kind="client",
                  portal_access="disabled")
    values.update(changes)
    return domain.Account(**values)


def test_only_clients_without_portal_access_can_be_invited_and_the_invitation_is_recorded():
    [event] = domain.decide_account(account(), domain.InviteToPortal(NOW))
    assert (event.account_id, event.email) == ("act_1", "ana@example.test")
    invited = domain.ACCOUNT.replay([event], account())
    assert invited.portal_access == "invited"
    assert domain.decide_account(invited, domain.InviteToPortal(NOW))  # re-sending is fine
    for refused in (account(kind="guest"), account(portal_access="enabled")):
        with pytest.raises(domain.Conflict):
            domain.decide_account(refused, domain.InviteToPortal(NOW))
    with pytest.raises(InvalidRequest):
        domain.decide_account(account(email=None), domain.InviteToPortal(NOW))
    with pytest.raises(domain.NotFound):
        domain.decide_account(None, domain.InviteToPortal(NOW))


def test_a_folder_needs_its_account():
    with pytest.raises(domain.NotFound):
        domain.decide_folder(None, domain.CreateFolder("fld_1", None, "Taxes 2025", NOW))
    [created] = domain.decide_folder(None, domain.CreateFolder("fld_1", account(), "../Taxes\x00 2025", NOW))
    assert (created.account_id, created.folder_name) == ("act_1", "Taxes 2025")


DOCUMENT = domain.Document("doc_1", "t", "act_1", None, "statement.pdf", 10, "ab" * 32, "application/pdf",
                           "tenants/t/documents/doc_1")


def prepared_share(*emails: str, view_only: bool = False) -> domain.Share:
    recipients = [domain.Recipient(email) for email in emails or ("a@example.test", "b@example.test")]
    events = domain.decide_share(None, domain.PrepareShare("shr_1", DOCUMENT, recipients, view_only,
                                                           NOW + timedelta(hours=1), NOW))
    return domain.SHARE.replay(events)


def after(share: domain.Share, *commands) -> domain.Share:
    for command in commands:
        share = domain.SHARE.replay(domain.decide_share(share, command), share)
    return share


def test_a_share_is_recorded_first_and_shared_once_every_recipient_has_a_link():
    share = prepared_share()
    assert (share.status, [r.link_id for r in share.recipients]) == ("pending", [None, None])
    first = domain.decide_share(share, domain.RecordLinkIssued("a@example.test", "lnk_a", NOW))
    assert [type(e).__name__ for e in first] == ["RecipientLinkIssued"]
    share = domain.SHARE.replay(first, share)
    assert domain.decide_share(share, domain.RecordLinkIssued("a@example.test", "lnk_a", NOW)) == []  # again
    last = domain.decide_share(share, domain.RecordLinkIssued("b@example.test", "lnk_b", NOW))
    assert [type(e).__name__ for e in last] == ["RecipientLinkIssued", "DocumentShared"]
    assert [(r.link_id, r.email) for r in last[1].recipients] == [("lnk_a", "a@example.test"),
                                                                  ("lnk_b", "b@example.test")]
    share = domain.SHARE.replay(last, share)
    assert (share.status, share.live_links()) == ("active", ["lnk_a", "lnk_b"])
    assert domain.decide_share(share, domain.FailIssuance("too late", NOW)) == []  # only a pending share fails


def test_a_share_whose_links_cannot_be_issued_fails_naming_the_links_already_issued():
    share = after(prepared_share(), domain.RecordLinkIssued("a@example.test", "lnk_a", NOW))
    [failed] = domain.decide_share(share, domain.FailIssuance("links refused", NOW))
    share = domain.SHARE.replay([failed], share)
    assert (share.status, share.failure, share.live_links()) == ("failed", "links refused", ["lnk_a"])
    assert domain.decide_share(share, domain.RevokeResource(NOW)) == []
    with pytest.raises(domain.Gone):
        domain.check_guest_share(share, "lnk_a", NOW)


def test_one_recipients_link_is_revoked_alone_and_an_ended_link_is_recorded_once():
    share = after(prepared_share(), domain.RecordLinkIssued("a@example.test", "lnk_a", NOW),
                  domain.RecordLinkIssued("b@example.test", "lnk_b", NOW))
    share = after(share, domain.RevokeRecipientLink("lnk_a", NOW))
    assert [r.status for r in share.recipients] == ["revoked", "active"]
    with pytest.raises(domain.Gone):
        domain.check_guest_share(share, "lnk_a", NOW)
    assert domain.check_guest_share(share, "lnk_b", NOW) is share
    assert domain.decide_share(share, domain.RevokeRecipientLink("lnk_a", NOW)) == []
    assert domain.decide_share(share, domain.RecordLinkEnded("lnk_a", "revoked", NOW)) == []
    [expired] = domain.decide_share(share, domain.RecordLinkEnded("lnk_b", "expired", NOW))
    assert type(expired).__name__ == "RecipientLinkExpired"
    assert domain.decide_share(share, domain.RecordLinkEnded("lnk_unknown", "revoked", NOW)) == []
    with pytest.raises(domain.NotFound):
        domain.decide_share(share, domain.RevokeRecipientLink("lnk_unknown", NOW))


def test_a_share_for_viewing_refuses_downloads_and_ends_when_revoked_or_expired():
    share = after(prepared_share("a@example.test", view_only=True),
                  domain.RecordLinkIssued("a@example.test", "lnk_a", NOW))
    with pytest.raises(domain.Forbidden):
        domain.check_download(share)
    [revoked_event] = domain.decide_share(share, domain.RevokeResource(NOW))
    assert revoked_event.share_id == "shr_1"
    revoked = domain.SHARE.replay([revoked_event], share)
    assert domain.decide_share(revoked, domain.RevokeResource(NOW)) == []
    assert revoked.live_links() == ["lnk_a"]  # still to be revoked at the links service
    with pytest.raises(domain.Gone):
        domain.check_guest_share(revoked, "lnk_a", NOW)
    with pytest.raises(domain.Gone):
        domain.check_guest_share(share, "lnk_a", NOW + timedelta(hours=2))
    with pytest.raises(domain.NotFound):
        domain.decide_share(None, domain.PrepareShare("shr_2", None, [domain.Recipient("a@example.test")], False,
                                                      NOW + timedelta(hours=1), NOW))


def test_a_share_recorded_with_its_links_at_once_is_read_as_active():
    from loginless.events.payloads import documents as events

    legacy = events.DocumentShared(share_id="shr_0", document_id="doc_1", tenant_id="t",
                                   recipients=[events.ShareRecipient(link_id="lnk_0", email="a@example.test")],
                                   view_only=False, expires_at=NOW + timedelta(days=1), shared_at=NOW)
    share = domain.SHARE.replay([legacy])
    assert (share.status, share.live_links()) == ("active", ["lnk_0"])


def test_a_file_is_recorded_only_while_its_upload_request_takes_files():
    upload = domain.CompletedUpload(file_id="doc_9", link_id="lnk_1", display_name="id.pdf", size=10,
                                    sha256="cd" * 32, content_type="application/pdf")
    [uploaded] = domain.decide_document(None, domain.RecordUploadedFile(upload_request(), upload, NOW))
    assert (uploaded.file_id, uploaded.folder_id, uploaded.upload_request_id) == ("doc_9", "fld_1", "upr_1")
    assert domain.DOCUMENT.replay([uploaded]).object_key == "tenants/t/documents/doc_9"
    assert (uploaded.scan_verdict, uploaded.scan_engine) == ("not_scanned", "")  # no antivirus said anything
    scanned = replace(upload, scan_engine="ClamAV 1.4.6/27000")
    [uploaded] = domain.decide_document(None, domain.RecordUploadedFile(upload_request(), scanned, NOW))
    assert (uploaded.scan_verdict, uploaded.scan_engine) == ("clean", "ClamAV 1.4.6/27000")
    with pytest.raises(domain.Gone):
        domain.decide_document(None, domain.RecordUploadedFile(upload_request(status="revoked"), upload, NOW))


def test_expiry_is_explicit_relative_or_the_default_and_always_future():
    assert domain.resolve_expiry(NOW, expires_at=None, expires_in_seconds=60,
                                 default=timedelta(days=1)) == NOW + timedelta(seconds=60)
    assert domain.resolve_expiry(NOW, expires_at=None, expires_in_seconds=None,
                                 default=timedelta(days=1)) == NOW + timedelta(days=1)
    for bad in ({"expires_at": NOW - timedelta(seconds=1)}, {"expires_at": NOW + timedelta(days=400)},
                {"expires_at": NOW + timedelta(days=1), "expires_in_seconds": 60}):
        with pytest.raises(InvalidRequest):
            domain.resolve_expiry(NOW, **{"expires_in_seconds": None, **bad}, default=timedelta(days=1))


def test_recipients_are_checked():
    assert domain.check_recipients([domain.Recipient("a@example.test", " Ana ")])[0].name == "Ana"
    for bad in ([], [domain.Recipient("not-an-email")],
                [domain.Recipient("a@example.test"), domain.Recipient("A@example.test")]):
        with pytest.raises(InvalidRequest):
            domain.check_recipients(bad)


def test_tus_metadata_is_parsed_and_checked():
    assert parse_metadata("filename ZG9jLnBkZg==,is_confidential") == {"filename": "doc.pdf", "is_confidential": ""}
    with pytest.raises(InvalidRequest):
        parse_metadata("filename not-base64!")


def test_the_upload_script_gets_every_message_it_asks_for_in_the_pages_language():
    english, spanish = i18n.script_messages("en"), i18n.script_messages("es")
    assert set(english) == set(spanish) == set(i18n.SCRIPT_MESSAGES)
    assert (english["uploading"], spanish["uploading"]) == ("Uploading… {percent}%", "Subiendo… {percent}%")
    assert spanish["too_large"] == "«{name}» ocupa más de {size}."


def test_accepted_types_are_named_once_with_the_generic_ones_translated():
    types = ["application/pdf", "image/png", "image/*", "text/plain", "application/x-unknown"]
    assert i18n.type_labels(types, "en") == "PDF, PNG, images, text, application/x-unknown"
    assert i18n.type_labels(types, "es") == "PDF, PNG, imágenes, texto, application/x-unknown"
    assert i18n.type_labels(["image/*", "image/*"], "es") == "imágenes"
