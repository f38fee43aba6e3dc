"""Download delivery settings: defaults, and bad values refused with a message that names the variable."""

import re

import pytest
from pydantic import ValidationError

from loginless.documents.settings import DocumentsSettings

pytestmark = pytest.mark.unit


def settings(**values) -> DocumentsSettings:  # noqa: ANN003
    return DocumentsSettings(database_url="postgresql://x/y", **values)


def test_downloads_are_presigned_urls_of_a_minute_on_the_services_own_s3_by_default():
    default = settings(s3_endpoint="http://s3.internal:9000/")
    assert (default.download_delivery, default.download_url_expiry_seconds) == ("presigned", 60)
    assert default.s3_guest_endpoint == "http://s3.internal:9000"
    public = settings(s3_endpoint="http://s3.internal:9000", s3_public_endpoint="https://files.example.com")
    assert public.s3_guest_endpoint == "https://files.example.com"


def test_the_upload_page_sends_whole_parts_per_patch_by_default():
    default = settings()
    assert default.upload_chunk_size % default.upload_part_size == 0
    assert default.upload_chunk_size > default.upload_part_size  # parts are stored while the rest arrives


@pytest.mark.parametrize(("values", "message"), [
    ({"s3_public_endpoint": "files.example.com"}, "s3_public_endpoint must be http(s)://host[:port] with no path"),
    ({"s3_public_endpoint": "https://cdn.example.com/s3"}, "s3_public_endpoint must be http(s)://host[:port]"),
    ({"s3_endpoint": "ftp://s3:21"}, "s3_endpoint must be http(s)://host[:port]"),
    ({"download_delivery": "proxy"}, "'presigned' or 'stream'"),
    ({"download_url_expiry_seconds": 0}, "greater than or equal to 1"),
    ({"download_url_expiry_seconds": 8 * 24 * 3600}, "less than or equal to 604800"),
    ({"upload_chunk_size": 64 * 1024 * 1024}, "upload_chunk_size (67108864) must be a multiple of upload_part_size"),
    ({"upload_part_size": 8 * 1024 * 1024}, "must be a multiple of upload_part_size (8388608)"),
])
def test_bad_delivery_settings_are_refused_at_start_up(values, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        settings(**values)
