"""FileUploaded v2 (the scan's verdict and engine) beside v1: stored v1 events read as v2 through the upcaster, and
the v1 copy published beside a v2 carries every v1 field unchanged."""

from datetime import UTC, datetime

import pytest

from loginless.documents import domain
from loginless.events.payloads import documents as events

pytestmark = pytest.mark.unit

V1_DATA = {"file_id": "doc_1", "tenant_id": "t", "account_id": "act_1", "folder_id": "fld_1",
           "display_name": "payslip.pdf", "size": 1234, "sha256": "ab" * 32, "content_type": "application/pdf",
           "link_id": "lnk_1", "upload_request_id": "upr_1", "uploader_name": None, "uploader_email": None,
           "uploaded_at": "2026-11-30T10:00:00Z"}


def test_a_stored_v1_file_uploaded_is_read_as_v2_with_an_unrecorded_verdict():
    upcast = domain.UPCASTERS.upcast("loginless.documents.FileUploaded.v1", dict(V1_DATA))
    assert isinstance(upcast, events.FileUploadedV2)
    assert (upcast.scan_verdict, upcast.scan_engine) == ("unrecorded", "unrecorded")
    assert upcast.model_dump(mode="json", exclude={"scan_verdict", "scan_engine"}) == V1_DATA
    document = domain.DOCUMENT.replay([upcast])  # the decider reads old streams as it reads new ones
    assert (document.document_id, document.size) == ("doc_1", 1234)


def test_a_v2_is_read_as_it_is_and_its_v1_copy_keeps_every_v1_field():
    v2 = events.FileUploadedV2(**{**V1_DATA, "uploaded_at": datetime(2026, 12, 6, tzinfo=UTC)},
                               scan_verdict="clean", scan_engine="ClamAV 1.4.6/27000")
    assert domain.UPCASTERS.upcast(v2.type_name(), v2.model_dump(mode="json")) == v2
    v1 = domain.file_uploaded_v1(v2)
    assert v1.type_name() == "loginless.documents.FileUploaded.v1"
    assert v1.model_dump() == v2.model_dump(exclude={"scan_verdict", "scan_engine"})


def test_v2_requires_a_verdict_which_is_why_it_is_a_new_version():
    with pytest.raises(ValueError):
        events.FileUploadedV2(**V1_DATA)
