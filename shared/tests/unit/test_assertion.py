"""The gateway's signed guest assertion: only the gateway's key, only for the named service, only briefly."""

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from nacl.signing import SigningKey

from loginless.shared.web.assertion import (
    LIFETIME_SECONDS,
    AssertionSigner,
    AssertionVerifier,
    GuestAssertion,
    GuestRecipient,
    InvalidAssertion,
    generate_key_pair,
)

pytestmark = pytest.mark.unit

PRIVATE, PUBLIC = generate_key_pair()
ASSERTION = GuestAssertion(
    link_id="link-1", tenant_id="t1", action="sign", resource_id="doc-9",
    recipient=GuestRecipient(email="ana@example.com", language="es"),
    link_expires_at=datetime.now(UTC) + timedelta(days=7), audience="signing",
)


def test_a_signed_assertion_verifies_for_its_audience():
    token = AssertionSigner(PRIVATE).sign(ASSERTION)
    assert AssertionVerifier(PUBLIC, audience="signing").verify(token) == ASSERTION


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "a.b.c"])
def test_missing_or_malformed_assertions_are_refused(token):
    with pytest.raises(InvalidAssertion):
        AssertionVerifier(PUBLIC, audience="signing").verify(token)


def test_an_assertion_for_another_service_is_refused():
    token = AssertionSigner(PRIVATE).sign(ASSERTION)
    with pytest.raises(InvalidAssertion):
        AssertionVerifier(PUBLIC, audience="payments").verify(token)


def test_an_assertion_signed_with_another_key_is_refused():
    other_private, _ = generate_key_pair()
    with pytest.raises(InvalidAssertion):
        AssertionVerifier(PUBLIC, audience="signing").verify(AssertionSigner(other_private).sign(ASSERTION))


def test_an_expired_assertion_is_refused():
    stale = AssertionSigner(PRIVATE).sign(ASSERTION, now=time.time() - LIFETIME_SECONDS - 10)
    with pytest.raises(InvalidAssertion):
        AssertionVerifier(PUBLIC, audience="signing").verify(stale)


def test_a_tampered_assertion_is_refused():
    header, payload, signature = AssertionSigner(PRIVATE).sign(ASSERTION).split(".")
    tampered = f"{header}.{payload[:-2]}AA.{signature}"
    with pytest.raises(InvalidAssertion):
        AssertionVerifier(PUBLIC, audience="signing").verify(tampered)


def test_an_assertion_not_yet_issued_is_refused():
    early = AssertionSigner(PRIVATE).sign(ASSERTION, now=time.time() + 60)
    with pytest.raises(InvalidAssertion):
        AssertionVerifier(PUBLIC, audience="signing").verify(early)


def test_the_assertion_is_a_standard_jwt_that_a_reference_library_checks_both_ways():
    # PyJWT with `cryptography` stands for what a service written elsewhere would use.
    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    token = AssertionSigner(PRIVATE).sign(ASSERTION)
    claims = jwt.decode(token, Ed25519PublicKey.from_public_bytes(base64.b64decode(PUBLIC)), algorithms=["EdDSA"],
                        audience="signing", issuer="loginless-gateway")
    assert claims["sub"] == "link-1" and claims["exp"] - claims["iat"] == LIFETIME_SECONDS

    reference = jwt.encode({**claims, "iat": int(time.time()), "exp": int(time.time()) + 30},
                           Ed25519PrivateKey.from_private_bytes(base64.b64decode(PRIVATE)), algorithm="EdDSA")
    assert AssertionVerifier(PUBLIC, audience="signing").verify(reference) == ASSERTION


EDDSA = {"alg": "EdDSA", "typ": "JWT"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict) -> str:
    return f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"


def _signed(header: dict, claims: dict) -> str:
    """Made by hand, signed with the gateway's real key: only the header or claims can be at fault."""
    unsigned = _unsigned(header, claims)
    return f"{unsigned}.{_b64url(SigningKey(base64.b64decode(PRIVATE)).sign(unsigned.encode()).signature)}"


def _claims(**changes) -> dict:
    now = int(time.time())
    return {"iss": "loginless-gateway", "aud": "signing", "sub": "link-1", "iat": now, "exp": now + 60,
            "link": ASSERTION.model_dump(mode="json", exclude={"audience"}), **changes}


def test_a_hand_made_assertion_signed_with_the_key_verifies():  # so the refusals below are about one fault each
    assert AssertionVerifier(PUBLIC, audience="signing").verify(_signed(EDDSA, _claims())) == ASSERTION


def _algorithm_confusion() -> str:
    """HS256 keyed with the public key: accepted by verifiers that let the token choose the algorithm."""
    unsigned = _unsigned({"alg": "HS256", "typ": "JWT"}, _claims())
    return f"{unsigned}.{_b64url(hmac.new(base64.b64decode(PUBLIC), unsigned.encode(), hashlib.sha256).digest())}"


def _signature_moved_onto_other_claims() -> str:
    header, _, signature = AssertionSigner(PRIVATE).sign(ASSERTION).split(".")
    other_resource = _claims(link={**_claims()["link"], "resource_id": "doc-other"})
    return f"{header}.{_b64url(json.dumps(other_resource).encode())}.{signature}"


@pytest.mark.parametrize("token", [
    pytest.param(_unsigned({"alg": "none", "typ": "JWT"}, _claims()) + ".", id="alg none, no signature"),
    pytest.param(_algorithm_confusion(), id="HMAC keyed with the public key"),
    pytest.param(_signature_moved_onto_other_claims(), id="a valid signature on other claims"),
    pytest.param(_signed({"alg": "EdDSA", "typ": "JWT", "crit": ["exp"]}, _claims()), id="an unknown header"),
    pytest.param("eyJhbGciOiJFZERTQSJ9.e30", id="two segments"),
    pytest.param("a.b.c.d", id="four segments"),
    pytest.param(_unsigned(EDDSA, _claims()) + ".***", id="a signature that is not base64url"),
    pytest.param(_unsigned(EDDSA, _claims()) + ".AAAA", id="a signature of the wrong length"),
    pytest.param("bm90IGpzb24.e30.AAAA", id="a header that is not JSON"),
])
def test_forged_and_malformed_assertions_are_refused(token):
    with pytest.raises(InvalidAssertion):
        AssertionVerifier(PUBLIC, audience="signing").verify(token)


@pytest.mark.parametrize("change", [
    {"iss": "someone-else"}, {"aud": ["signing"]}, {"aud": "payments"}, {"exp": "soon"}, {"iat": None},
    {"exp": int(time.time()) - 30}, {"link": {"link_id": "x"}}, {"link": {**_claims()["link"], "audience": "x"}},
])
def test_well_signed_assertions_with_wrong_claims_are_refused(change):
    with pytest.raises(InvalidAssertion):
        AssertionVerifier(PUBLIC, audience="signing").verify(_signed(EDDSA, _claims(**change)))
