"""Which bytes a Range request gets: one range, the whole file, or 416."""

import pytest

from loginless.documents.byte_ranges import ByteRange, RangeNotSatisfiable, requested_range

pytestmark = pytest.mark.unit

ETAG = '"abc"'


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-99", ByteRange(0, 99)),
    ("bytes=100-", ByteRange(100, 999)),
    ("bytes=-100", ByteRange(900, 999)),  # the last 100 bytes
    ("bytes=-5000", ByteRange(0, 999)),  # more than there is: all of it
    ("bytes=990-5000", ByteRange(990, 999)),  # past the end: up to it
    (" bytes=5-5 ", ByteRange(5, 5)),
])
def test_one_range_is_sent(header, expected):
    assert requested_range(header, None, size=1000, etag=ETAG) == expected


@pytest.mark.parametrize("header", [
    None, "", "bytes=0-9,20-29",  # several ranges: the whole file instead
    "items=0-9", "bytes=", "bytes=-", "bytes=9-0", "bytes=a-b", "bytes=+1-5", "bytes=0x1-", "bytes=1_0-",
    "bytes=٣-", "bytes 0-9",  # a digit of another script, no equals sign
])
def test_anything_else_means_the_whole_file(header):
    assert requested_range(header, None, size=1000, etag=ETAG) is None


@pytest.mark.parametrize(("header", "size"), [("bytes=1000-", 1000), ("bytes=5000-6000", 1000), ("bytes=-0", 1000),
                                               ("bytes=-10", 0)])
def test_a_range_past_the_end_cannot_be_satisfied(header, size):
    with pytest.raises(RangeNotSatisfiable):
        requested_range(header, None, size=size, etag=ETAG)


def test_if_range_of_another_version_means_the_whole_file():
    assert requested_range("bytes=500-", '"abc"', size=1000, etag=ETAG) == ByteRange(500, 999)
    assert requested_range("bytes=500-", '"other"', size=1000, etag=ETAG) is None
    assert requested_range("bytes=500-", "Wed, 21 Oct 2015 07:28:00 GMT", size=1000, etag=ETAG) is None
    assert ByteRange(500, 999).length == 500 and ByteRange(500, 999).content_range(1000) == "bytes 500-999/1000"
