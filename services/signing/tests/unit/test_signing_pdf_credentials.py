"""Seal credentials from PKCS#12: a usable seal is accepted, and each way one can be unusable is refused by name."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from loginless.shared.errors import InvalidRequest
from loginless.signing.pdf import InvalidSealCredentials, SealCredentials
from loginless.signing.pdf.__main__ import main as cli

from ..conftest import NOW

pytestmark = pytest.mark.unit

PASSWORD = b"correct horse"


def certificate(key: ec.EllipticCurvePrivateKey, *, not_before: datetime, not_after: datetime,
                key_usage: x509.KeyUsage | None) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test seal")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after))
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    return builder.sign(key, hashes.SHA256())


def usage(**allowed: bool) -> x509.KeyUsage:
    flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                 key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)
    return x509.KeyUsage(**{**flags, **allowed})


def bundle(*, key_usage: x509.KeyUsage | None = usage(digital_signature=True), days_left: int = 30,
           with_key: bool = True, days_until_valid: int = 0) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(key, not_before=NOW + timedelta(days=days_until_valid) - timedelta(days=1),
                       not_after=NOW + timedelta(days=days_left), key_usage=key_usage)
    return pkcs12.serialize_key_and_certificates(b"seal", key if with_key else None, cert, None,
                                                 serialization.BestAvailableEncryption(PASSWORD))


def refused(data: bytes, password: bytes | None = PASSWORD) -> InvalidSealCredentials:
    with pytest.raises(InvalidSealCredentials) as raised:
        SealCredentials.from_pkcs12(data, password, now=NOW)
    assert isinstance(raised.value, InvalidRequest) and raised.value.status_code == 422
    return raised.value


def test_a_valid_seal_is_read_with_its_certificate_and_chain(dev_ca):
    seal = SealCredentials.from_pkcs12(dev_ca.seal_pkcs12, None, now=NOW)
    assert "document seal" in seal.subject
    assert len(seal.chain) == 1 and seal.chain[0].subject == seal.certificate.issuer
    assert "private_key" not in repr(seal)


@pytest.mark.parametrize(("allowed", "accepted"), [
    ({"digital_signature": True}, True),
    ({"content_commitment": True}, True),  # nonRepudiation
    ({"key_encipherment": True, "key_agreement": True}, False),
    ({"key_cert_sign": True}, False),
])
def test_key_usage_must_allow_digital_signature_or_non_repudiation(allowed, accepted):
    data = bundle(key_usage=usage(**allowed))
    if accepted:
        assert SealCredentials.from_pkcs12(data, PASSWORD, now=NOW).certificate is not None
    else:
        problem = refused(data)
        assert problem.problem == "key-usage" and "digital signatures" in problem.detail


def test_a_certificate_without_key_usage_may_sign():
    assert SealCredentials.from_pkcs12(bundle(key_usage=None), PASSWORD, now=NOW) is not None


def test_a_wrong_password_is_refused():
    problem = refused(bundle(), b"wrong password")
    assert problem.problem == "unreadable" and "wrong password" in problem.detail


def test_a_file_that_is_not_pkcs12_is_refused():
    assert refused(b"-----BEGIN CERTIFICATE-----\n", None).problem == "unreadable"


def test_an_expired_certificate_is_refused_with_its_end_date():
    problem = refused(bundle(days_left=-1))
    assert problem.problem == "expired" and "expired on" in problem.detail


def test_a_certificate_not_yet_valid_is_refused():
    assert refused(bundle(days_until_valid=3)).problem == "not-yet-valid"


def test_a_certificate_without_its_private_key_is_refused():
    assert refused(bundle(with_key=False)).problem == "no-private-key"


def test_a_key_that_does_not_belong_to_the_certificate_is_refused():
    other = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(ec.generate_private_key(ec.SECP256R1()), not_before=NOW - timedelta(days=1),
                       not_after=NOW + timedelta(days=1), key_usage=None)
    with pytest.raises(InvalidSealCredentials) as raised:
        SealCredentials.from_key_and_certificates(other, cert, now=NOW)
    assert raised.value.problem == "key-mismatch"


def test_validity_is_judged_at_the_clock_passed_in(dev_ca):
    later = datetime.now(UTC) + timedelta(days=3650)
    with pytest.raises(InvalidSealCredentials) as raised:
        SealCredentials.from_pkcs12(dev_ca.seal_pkcs12, None, now=later)
    assert raised.value.problem == "expired"


def test_the_development_ca_command_writes_a_usable_seal_once_and_keeps_it(tmp_path, capsys):
    assert cli(["dev-ca", str(tmp_path)]) == 0
    written = {name: (tmp_path / name).read_bytes() for name in ("ca.pem", "seal.pem", "seal.p12")}
    assert all(oct((tmp_path / name).stat().st_mode)[-3:] == "600" for name in written)
    seal = SealCredentials.from_pkcs12(written["seal.p12"], None, now=datetime.now(UTC))
    root = x509.load_pem_x509_certificate(written["ca.pem"])
    assert seal.certificate.issuer == root.subject
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    assert cli(["dev-ca", str(tmp_path)]) == 0
    assert (tmp_path / "seal.p12").read_bytes() == written["seal.p12"]
    assert cli(["dev-ca", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "seal.p12").read_bytes() != written["seal.p12"]
    assert "kept" in capsys.readouterr().out
