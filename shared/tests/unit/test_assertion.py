"""The gateway's signed guest assertion: only the gateway's key, only for the named service, only briefly."""

import time
from datetime import UTC, datetime, timedelta

import pytest

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
