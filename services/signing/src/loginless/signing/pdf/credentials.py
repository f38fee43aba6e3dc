"""The firm's seal: a certificate and private key from a PKCS#12 file, checked before the first document needs it.

The key stays in memory: it is read from the bytes given and never written anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from loginless.signing.pdf.errors import InvalidSealCredentials

_SIGNING_KEYS = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey,
                 dsa.DSAPrivateKey)


@dataclass(frozen=True, eq=False)
class SealCredentials:
    """The firm's seal, checked; made by :meth:`from_pkcs12`."""

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # the file's other certificates (its issuers): each seal embeds them
    private_key: object = field(repr=False)

    @classmethod
    def from_pkcs12(cls, data: bytes, password: bytes | None, *, now: datetime) -> SealCredentials:
        """Reads and checks a PKCS#12 seal: a key and its certificate, valid at ``now``, allowed to sign."""
        try:
            key, certificate, chain = pkcs12.load_key_and_certificates(data, password)
        except (ValueError, TypeError):
            raise InvalidSealCredentials("unreadable", "the seal file cannot be opened: wrong password, or not a "
                                         "PKCS#12 (.p12, .pfx) file") from None
        if key is None:
            raise InvalidSealCredentials("no-private-key", "the seal file holds no private key")
        if certificate is None:
            raise InvalidSealCredentials("no-certificate", "the seal file holds a key but not its certificate")
        return cls.from_key_and_certificates(key, certificate, chain, now=now)

    @classmethod
    def from_key_and_certificates(cls, key: object, certificate: x509.Certificate,
                                  chain: Sequence[x509.Certificate] = (), *, now: datetime) -> SealCredentials:
        if not isinstance(key, _SIGNING_KEYS):
            raise InvalidSealCredentials("unsupported-key", f"a {type(key).__name__} cannot sign")
        if _public_der(key.public_key()) != _public_der(certificate.public_key()):
            raise InvalidSealCredentials("key-mismatch", "the private key does not belong to the certificate")
        if now < certificate.not_valid_before_utc:
            raise InvalidSealCredentials("not-yet-valid", f"the seal certificate is valid only from "
                                         f"{certificate.not_valid_before_utc.isoformat()}")
        if now > certificate.not_valid_after_utc:
            raise InvalidSealCredentials("expired", f"the seal certificate expired on "
                                         f"{certificate.not_valid_after_utc.isoformat()}")
        if not _may_sign(certificate):
            raise InvalidSealCredentials("key-usage", "the seal certificate's key usage allows neither digital "
                                         "signatures nor non-repudiation")
        return cls(certificate=certificate, chain=tuple(chain), private_key=key)

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    @cached_property
    def pyhanko_signer(self):  # noqa: ANN201 -- pyhanko is imported only when a document is sealed
        """The signer pyHanko signs with, made once per credentials and safe to share between threads."""
        from loginless.signing.pdf.signer import in_memory_signer

        return in_memory_signer(self.private_key, self.certificate, self.chain)


def _may_sign(certificate: x509.Certificate) -> bool:
    """RFC 5280: without a key usage extension the key may be used for anything."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.digital_signature or usage.content_commitment  # content_commitment is nonRepudiation's new name


def _public_der(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
