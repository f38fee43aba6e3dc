"""pyHanko's in-memory signer, minus its one slow habit.

``SimpleSigner`` keeps the private key as DER and parses it again for every signature it makes, and pyHanko makes
two per seal (the first only to learn how many bytes to reserve). Parsing an RSA key checks it, about 60 ms on our
machines: two thirds of a seal's time. This subclass signs with the key object parsed once when the seal was read,
and answers the sizing request without signing (a signature of the right length, all zeros). Everything else,
including which mechanism goes with which digest, is pyHanko's own code.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa


def in_memory_signer(private_key: object, certificate: x509.Certificate,  # noqa: ANN201
                     chain: Sequence[x509.Certificate]):
    """A pyHanko signer for this key and certificate, with ``chain`` as the certificates it may embed."""
    from asn1crypto import keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    class InMemorySigner(SimpleSigner):
        async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
            if dry_run and isinstance(private_key, rsa.RSAPrivateKey):
                return bytes(private_key.key_size // 8)  # an RSA signature's length is the modulus's, always
            return self.sign_raw(data, digest_algorithm)

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
            digest = getattr(hashes, digest_algorithm.upper().replace("-", "_"), None)
            if mechanism == "rsassa_pkcs1v15" and isinstance(private_key, rsa.RSAPrivateKey) and digest:
                return private_key.sign(data, padding.PKCS1v15(), digest())
            if mechanism == "ecdsa" and isinstance(private_key, ec.EllipticCurvePrivateKey) and digest:
                return private_key.sign(data, ec.ECDSA(digest()))
            if mechanism in ("ed25519", "ed448") and isinstance(private_key, ed25519.Ed25519PrivateKey
                                                                | ed448.Ed448PrivateKey):
                return private_key.sign(data)
            return super().sign_raw(data, digest_algorithm)  # PSS and the rest: pyHanko's way

    key_info = keys.PrivateKeyInfo.load(private_key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return InMemorySigner(
        signing_cert=asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER)),
        signing_key=key_info,
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in chain]))
