"""The guest cookie: scoped to one link, signed, short-lived, and unusable for any other link."""

import pytest

from loginless.gateway.admission import device_proven
from loginless.gateway.guest_cookie import COOKIE_NAME, DEVICE_COOKIE_NAME, Grant, GuestCookies, GuestPass
from loginless.gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

NOW = 1_800_000_000.0


def cookies(secret: str = "s" * 32, *, secure: bool = False) -> GuestCookies:
    return GuestCookies(secret, secure=secure)


def test_a_pass_round_trips_for_its_own_link_only():
    value = cookies().encode(GuestPass("lnk_A", Grant.ACCESS, int(NOW) + 60))
    assert cookies().decode(value, link_id="lnk_A", now=NOW) == GuestPass("lnk_A", Grant.ACCESS, int(NOW) + 60)
    assert cookies().decode(value, link_id="lnk_B", now=NOW) is None


@pytest.mark.parametrize("tamper", [
    lambda value: value[:-2] + ("AA" if not value.endswith("AA") else "BB"),  # the signature
    lambda value: value.replace(value.split(".")[0], "djF8bG5rX0J8YWNjZXNzfDk5OTk5OTk5OTk"),  # payload for lnk_B
    lambda value: value.split(".")[0],  # no signature at all
    lambda value: "",
    lambda value: "not-a-cookie",
    lambda value: value + ".extra",
])
def test_a_changed_or_malformed_value_is_refused(tamper):
    value = cookies().encode(GuestPass("lnk_A", Grant.ACCESS, int(NOW) + 60))
    assert cookies().decode(tamper(value), link_id="lnk_A", now=NOW) is None


def test_a_pass_signed_with_another_secret_is_refused():
    value = cookies("another-secret-of-32-characters!").encode(GuestPass("lnk_A", Grant.ACCESS, int(NOW) + 60))
    assert cookies().decode(value, link_id="lnk_A", now=NOW) is None


def test_a_pass_stops_working_when_it_expires():
    value = cookies().encode(GuestPass("lnk_A", Grant.ACCESS, int(NOW) + 60))
    assert cookies().decode(value, link_id="lnk_A", now=NOW + 59) is not None
    assert cookies().decode(value, link_id="lnk_A", now=NOW + 60) is None


def test_the_cookie_is_http_only_strict_and_scoped_to_the_link_path():
    header = cookies().issue("lnk_A", Grant.ACCESS, now=NOW, lifetime_seconds=3600).to_header(header="")
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in header.split(";")}
    assert header.startswith(f"{COOKIE_NAME}=")
    assert "httponly" in attributes
    assert attributes["samesite"] == "SameSite=Strict"
    assert attributes["path"] == "Path=/g/lnk_A/"
    assert attributes["max-age"] == "Max-Age=3600"
    assert "secure" not in attributes


def test_the_cookie_is_secure_when_asked():
    header = cookies(secure=True).issue("lnk_A", Grant.ACCESS, now=NOW, lifetime_seconds=3600).to_header(header="")
    assert "Secure" in [part.strip() for part in header.split(";")]


def test_the_pass_lives_its_own_lifetime_whatever_the_link():
    # The link's expiry is not the cookie's business: the link's state, checked on every request, ends access, and
    # a guest on the pages when it expires is then told so (the 410 page) rather than sent back to the link.
    cookie = cookies().issue("lnk_A", Grant.ACCESS, now=NOW, lifetime_seconds=86_400)
    assert cookie.max_age == 86_400
    assert cookies().decode(cookie.value, link_id="lnk_A", now=NOW + 86_399) is not None
    assert cookies().decode(cookie.value, link_id="lnk_A", now=NOW + 86_400) is None


def test_clearing_targets_the_same_path():
    cleared = cookies().clear("lnk_A")
    assert (cleared.path, cleared.max_age, cleared.value) == ("/g/lnk_A/", 0, "")


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="GATEWAY_COOKIE_SECRET"):
        GuestCookies("", secure=True)


@pytest.mark.parametrize(("public_url", "secure"), [
    ("https://guests.example.com", True), ("http://127.0.0.1:8000", False), ("HTTPS://guests.example", True),
])
def test_cookies_are_secure_unless_the_public_url_is_plain_http(public_url, secure):
    settings = GatewaySettings(database_url="postgresql://x@h/db", public_url=public_url)
    assert settings.secure_cookies is secure


def test_a_rotated_secret_keeps_guests_inside_until_the_old_one_is_removed():
    old, new = "o" * 32, "n" * 32
    issued_before = cookies(old).encode(GuestPass("lnk_A", Grant.ACCESS, int(NOW) + 60))
    rotating = GuestCookies(new, secure=False, previous_secrets=(old,))
    assert rotating.decode(issued_before, link_id="lnk_A", now=NOW) is not None  # still inside after the switch
    issued_after = rotating.encode(GuestPass("lnk_A", Grant.ACCESS, int(NOW) + 60))
    assert cookies(new).decode(issued_after, link_id="lnk_A", now=NOW) is not None  # signed with the new one
    assert cookies(old).decode(issued_after, link_id="lnk_A", now=NOW) is None
    assert cookies(new).decode(issued_before, link_id="lnk_A", now=NOW) is None  # old secret removed: signed out
    stranger = GuestCookies("x" * 32, secure=False).encode(GuestPass("lnk_A", Grant.ACCESS, int(NOW) + 60))
    assert rotating.decode(stranger, link_id="lnk_A", now=NOW) is None


def test_a_previous_secret_too_short_to_have_been_one_is_refused():
    with pytest.raises(ValueError, match="PREVIOUS_COOKIE_SECRETS"):
        GuestCookies("n" * 32, secure=False, previous_secrets=("short",))


class _Gateway:
    """What ``admission.device_proven`` asks of the gateway's runtime."""

    def __init__(self) -> None:
        self.cookies = cookies()

    def wall_clock(self) -> float:
        return NOW


def _scope(*pairs: tuple[str, str]) -> dict:
    return {"headers": [(b"cookie", "; ".join(f"{name}={value}" for name, value in pairs).encode())], "state": {}}


def test_the_device_proof_is_a_cookie_of_its_own_that_entering_the_link_again_does_not_replace():
    device = cookies().issue("lnk_A", Grant.DEVICE, now=NOW, lifetime_seconds=90 * 86400)
    access = cookies().issue("lnk_A", Grant.ACCESS, now=NOW, lifetime_seconds=3600)
    assert (device.key, access.key) == (DEVICE_COOKIE_NAME, COOKIE_NAME)
    assert (device.path, device.httponly, device.samesite) == ("/g/lnk_A/", True, "Strict")
    assert cookies().clear("lnk_A").key == COOKIE_NAME  # leaving or a closed link never unproves the browser


def test_only_a_device_pass_for_the_link_in_the_device_cookie_proves_the_browser():
    gateway = _Gateway()
    proof = gateway.cookies.encode(GuestPass("lnk_A", Grant.DEVICE, int(NOW) + 60))
    access = gateway.cookies.encode(GuestPass("lnk_A", Grant.ACCESS, int(NOW) + 60))
    other_link = gateway.cookies.encode(GuestPass("lnk_B", Grant.DEVICE, int(NOW) + 60))
    expired = gateway.cookies.encode(GuestPass("lnk_A", Grant.DEVICE, int(NOW)))
    assert device_proven(_scope((DEVICE_COOKIE_NAME, proof)), gateway, "lnk_A")
    assert device_proven(_scope((DEVICE_COOKIE_NAME, other_link), (DEVICE_COOKIE_NAME, proof)), gateway, "lnk_A")
    for scope in (_scope((DEVICE_COOKIE_NAME, access)),  # the link's own pass copied over: not a proof
                  _scope((COOKIE_NAME, proof)),  # a proof under the link cookie's name: not read as one
                  _scope((DEVICE_COOKIE_NAME, other_link)), _scope((DEVICE_COOKIE_NAME, expired)),
                  _scope((DEVICE_COOKIE_NAME, proof[:-2] + "AA"))):
        assert not device_proven(scope, gateway, "lnk_A")
