"""How the gateway reads the links service's 410 answers."""

import httpx
import pytest

from loginless.gateway.links_client import LinksClient

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("body", "expected"), [
    ({"status": 410, "link_status": "used_up", "link_id": "lnk_1", "tenant_id": "t1"}, "used_up"),
    ({"status": "revoked", "link_id": "lnk_1", "tenant_id": "t1"}, "revoked"),  # a links service before the rename
    ({"status": 410, "link_id": "lnk_1", "tenant_id": "t1"}, "expired"),  # says nothing more: the mildest reason
])
def test_a_gone_answer_says_why_the_link_is_closed(body, expected):
    gone = LinksClient._gone(httpx.Response(410, json=body))
    assert (gone.link_id, gone.tenant_id, gone.status) == ("lnk_1", "t1", expected)


def test_a_gone_answer_that_is_not_json_is_still_gone():
    gone = LinksClient._gone(httpx.Response(410, content=b"<html>proxy error</html>"))
    assert (gone.link_id, gone.status) == (None, "expired")
