"""A development certificate authority and a seal it issued, for ``make run`` and tests: never for production,
where the firm's seal comes from a trust service provider (a qualified one for a qualified seal)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

KEY_SIZE = 2048  # RSA: understood by every PDF viewer; generated in a fraction of a second
CLOCK_SKEW = timedelta(minutes=5)  # certificates start a little before "now", so a lagging clock accepts them


@dataclass(frozen=True)
class DevelopmentCa:
    root_certificate_pem: bytes  # to trust: a viewer's or pdfsig's NSS database, ``validate_sealed``
    seal_certificate_pem: bytes
    seal_pkcs12: bytes  # the seal's key and certificate with the root, for ``SealCredentials.from_pkcs12``
    seal_password: bytes | None


def development_ca(*, now: datetime, organisation: str = "loginless development",
                   valid_for: timedelta = timedelta(days=825), password: bytes | None = None) -> DevelopmentCa:
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    root_name = _name(organisation, f"{organisation} root CA")
    root = (_builder(root_name, root_name, root_key.public_key(), now, valid_for)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))

    seal_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    seal = (_builder(_name(organisation, f"{organisation} document seal"), root_name, seal_key.public_key(), now,
                     valid_for)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(seal_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))

    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    bundle = pkcs12.serialize_key_and_certificates(b"seal", seal_key, seal, [root], encryption)
    return DevelopmentCa(root_certificate_pem=root.public_bytes(serialization.Encoding.PEM),
                         seal_certificate_pem=seal.public_bytes(serialization.Encoding.PEM),
                         seal_pkcs12=bundle, seal_password=password)


def _name(organisation: str, common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, public_key, now: datetime,  # noqa: ANN001
             valid_for: timedelta) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + valid_for))


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                 key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)
    return x509.KeyUsage(**{**flags, **allowed})
