"""Fixtures of the signing service's tests: PDFs made in code (ordinary and hostile), a development CA and seal, a
local PKI served by certomancer (timestamp authority, CRLs, OCSP), and pdfsig with an NSS database that trusts our
test roots."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pytest

from loginless.signing.pdf import (
    AuditTrail,
    DevelopmentCa,
    SealCredentials,
    TrailDocument,
    TrailEvent,
    TrailRecipient,
    development_ca,
)
from loginless.testkit.endpoints import running_in_ci

NOW = datetime.now(UTC)


# ---- PDFs made in code ---------------------------------------------------------------------------------------


def text_pdf(pages: list[list[tuple[float, float, str]]] | None = None, *, size: tuple[float, float] = (595, 842),
             rotate: int = 0, mutate: Callable[[pikepdf.Pdf], None] | None = None) -> bytes:
    """A PDF whose pages show the given texts in 12 pt Helvetica at the given user-space positions; ``mutate`` adds
    whatever a test needs (an action, an attachment, a form) before it is written."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    for texts in pages or [[(72, 720, "A contract between two parties.")]]:
        page = pdf.add_blank_page(page_size=size)
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        operations = b"".join(b"BT /F1 12 Tf %g %g Td (%s) Tj ET\n" % (x, y, text.encode("cp1252"))
                              for x, y, text in texts)
        page.obj.Contents = pdf.make_stream(operations)
        if rotate:
            page.obj.Rotate = rotate
    if mutate is not None:
        mutate(pdf)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def blank_pdf(page_count: int) -> bytes:
    pdf = pikepdf.new()
    for _ in range(page_count):
        pdf.add_blank_page(page_size=(595, 842))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def append_incremental_update(sealed: bytes) -> bytes:
    """``sealed`` with a new revision appended that writes "PAID" on page 1: what a forger would do."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(sealed))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    addition = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 48 Tf 200 400 Td (PAID) Tj ET"))
    existing = page.raw_get("/Contents")
    contents = list(existing.get_object()) if isinstance(existing.get_object(), generic.ArrayObject) else [existing]
    page["/Contents"] = generic.ArrayObject([*contents, addition])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def flip_byte_inside_signed_range(sealed: bytes) -> bytes:
    """One bit changed in the first page's width (595 becomes 585 points), which the first signed byte range
    covers: the file still parses, the document is no longer what was sealed."""
    import re

    first_range_end = int(re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)", sealed).group(1))
    position = sealed.index(b"/MediaBox [ 0 0 595") + len(b"/MediaBox [ 0 0 5")
    assert position < first_range_end
    tampered = bytearray(sealed)
    tampered[position] ^= 0x01
    return bytes(tampered)


# ---- an audit trail ---------------------------------------------------------------------------------------------

T0 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
ORIGINAL, SEALED = "1f" * 32, "a7" * 32


def recipient(name: str, email: str, *, verification: str = "email_code", events: int = 5) -> TrailRecipient:
    actions = ("sent", "opened", "verified", "consented", "signed")
    return TrailRecipient(
        name=name, email=email, role="signer", status="signed", verification=verification,
        consented_at=T0 + timedelta(minutes=3),
        events=tuple(TrailEvent(T0 + timedelta(minutes=minute), actions[minute % len(actions)], "203.0.113.7",
                                CHROME) for minute in range(events)))


TRAIL = AuditTrail(  # two signers who verified by code, one envelope, one document
    envelope_id="env_01JXYZ", title="Lease agreement, 4th floor", sender_name="Marta Ruiz",
    sender_email="marta@firm.example", sent_at=T0, outcome="completed", outcome_at=T0 + timedelta(hours=2),
    documents=(TrailDocument("lease.pdf", ORIGINAL, SEALED),),
    recipients=(recipient("Ana García", "ana@example.com"),
                recipient("Bruno Torres", "bruno@example.com", verification="sms_code")),
    generated_at=T0 + timedelta(hours=2, minutes=1), firm_name="Ruiz & Asociados")



@pytest.fixture(scope="session")
def dev_ca() -> DevelopmentCa:
    return development_ca(now=NOW, organisation="loginless tests")


@pytest.fixture(scope="session")
def seal(dev_ca: DevelopmentCa) -> SealCredentials:
    return SealCredentials.from_pkcs12(dev_ca.seal_pkcs12, dev_ca.seal_password, now=NOW)


# ---- pdfsig and an NSS database -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfsigSignature:
    """One "Signature #n" block of pdfsig's output."""

    text: str

    @property
    def valid(self) -> bool:
        return "- Signature Validation: Signature is Valid." in self.text

    @property
    def covers_whole_document(self) -> bool:
        return "- Total document signed" in self.text

    @property
    def trusted(self) -> bool:
        return "- Certificate Validation: Certificate is Trusted." in self.text


@dataclass(frozen=True)
class Pdfsig:
    """poppler's pdfsig, trusting the roots put in its NSS database. pdfsig exits 0 whatever it finds: the output
    is what tells."""

    nss_dir: Path

    def trust(self, name: str, root_pem: bytes) -> None:
        certificate = self.nss_dir / f"{name}.pem"
        certificate.write_bytes(root_pem)
        _run(["certutil", "-A", "-d", f"sql:{self.nss_dir}", "-n", name, "-t", "CT,C,C", "-a", "-i",
              str(certificate)])

    def signatures(self, pdf: bytes, folder: Path, *options: str) -> list[PdfsigSignature]:
        path = folder / "checked.pdf"
        path.write_bytes(pdf)
        output = _run(["pdfsig", "-nssdir", f"sql:{self.nss_dir}", *options, str(path)])
        blocks = output.split("Signature #")[1:]
        assert blocks, f"pdfsig found no signature:\n{output}"
        return [PdfsigSignature(block) for block in blocks]


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{command[0]} failed: {done.stderr or done.stdout}"
    return done.stdout + done.stderr


@pytest.fixture(scope="session")
def pdfsig(tmp_path_factory: pytest.TempPathFactory, dev_ca: DevelopmentCa) -> Pdfsig:
    for tool, package in (("pdfsig", "poppler-utils"), ("certutil", "libnss3-tools")):
        if shutil.which(tool) is None:
            message = f"{tool} is not installed: apt-get install {package} (.ci/run does)"
            if running_in_ci():
                pytest.fail(message, pytrace=False)  # in CI a missing tool is a failure, never a skip
            pytest.skip(message)
    nss_dir = tmp_path_factory.mktemp("nss")
    _run(["certutil", "-N", "-d", f"sql:{nss_dir}", "--empty-password"])
    checker = Pdfsig(nss_dir)
    checker.trust("loginless-dev-ca", dev_ca.root_certificate_pem)
    return checker


# ---- a local PKI: certomancer's timestamp authority, CRL repository and OCSP responder ------------------------


@dataclass(frozen=True)
class LocalPki:
    url: str
    root_pem: bytes
    seal_pkcs12: bytes  # a seal whose certificate names this PKI's CRL and OCSP URLs
    revoked_seal_pkcs12: bytes

    @property
    def timestamp_url(self) -> str:
        return f"{self.url}/testing-ca/tsa/tsa"


@contextmanager
def serve_local_pki(folder: Path) -> Iterator[LocalPki]:
    """certomancer's Animator served on a free loopback port from a thread: the socket is bound (and so ready)
    before the URL is written into the configuration, and shutting the server down ends the thread."""
    import threading

    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig
    from werkzeug.serving import make_server

    for label in ("root", "tsa", "ocsp", "seal", "revoked-seal"):
        _write_key(folder / f"{label}.key.pem")
    server = make_server("127.0.0.1", 0, app=None, threaded=True)  # the app is set once the URL is known
    url = f"http://127.0.0.1:{server.server_port}"
    config = CertomancerConfig.from_yaml(_pki_config(url), key_search_dir=str(folder))
    architecture = config.get_pki_arch(ArchLabel("testing-ca"))
    server.app = Animator(AnimatorArchStore(config.pki_archs), with_web_ui=False)
    thread = threading.Thread(target=server.serve_forever, name="certomancer", daemon=True)
    thread.start()
    try:
        yield LocalPki(
            url=url, root_pem=_pem(architecture.get_cert(CertLabel("root")).dump()),
            seal_pkcs12=architecture.package_pkcs12(CertLabel("seal")),
            revoked_seal_pkcs12=architecture.package_pkcs12(CertLabel("revoked-seal")))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def local_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPki]:
    with serve_local_pki(tmp_path_factory.mktemp("pki")) as pki:
        yield pki


def _write_key(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _pem(der: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def _pki_config(url: str) -> str:
    keys = "\n".join(f"      {label}:\n        path: {label}.key.pem"
                     for label in ("root", "tsa", "ocsp", "seal", "revoked-seal"))
    return f"""
external-url-prefix: "{url}"
keysets:
  testing-ca:
    keys:
{keys}
pki-architectures:
  testing-ca:
    keyset: testing-ca
    entity-defaults: {{country-name: ES, organization-name: loginless test PKI}}
    entities:
      root: {{common-name: Test root CA}}
      tsa: {{common-name: Test timestamp authority}}
      ocsp: {{common-name: Test OCSP responder}}
      seal: {{common-name: Test firm seal}}
      revoked-seal: {{common-name: Test revoked seal}}
    certs:
      root:
        subject: root
        issuer: root
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2100-01-01T00:00:00+0000"}}
        extensions:
          - {{id: basic_constraints, critical: true, value: {{ca: true}}}}
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature, key_cert_sign, crl_sign]}}
      tsa:
        issuer: root
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2100-01-01T00:00:00+0000"}}
        extensions:
          - {{id: key_usage, critical: true, smart-value: {{schema: key-usage, params: [digital_signature]}}}}
          - {{id: extended_key_usage, critical: true, value: [time_stamping]}}
          - {{id: crl_distribution_points, smart-value: {{schema: crl-dist-url, params: {{crl-repo-names: [root]}}}}}}
      ocsp:
        issuer: root
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2100-01-01T00:00:00+0000"}}
        extensions:
          - {{id: key_usage, critical: true, smart-value: {{schema: key-usage, params: [digital_signature]}}}}
          - {{id: extended_key_usage, critical: true, value: [ocsp_signing]}}
          - {{id: ocsp_no_check}}
      seal:
        issuer: root
        validity: {{valid-from: "2020-01-01T00:00:00+0000", valid-to: "2100-01-01T00:00:00+0000"}}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature, non_repudiation]}}
          - {{id: crl_distribution_points, smart-value: {{schema: crl-dist-url, params: {{crl-repo-names: [root]}}}}}}
          - id: authority_information_access
            smart-value: {{schema: aia-urls, params: {{ocsp-responder-names: [root]}}}}
      revoked-seal:
        template: seal
        subject: revoked-seal
        subject-key: revoked-seal
        revocation: {{revoked-since: "2021-01-01T00:00:00+0000", reason: key_compromise}}
    services:
      ocsp:
        root: {{for-issuer: root, responder-cert: ocsp, signing-key: ocsp}}
      crl-repo:
        root: {{for-issuer: root, signing-key: root, simulated-update-schedule: "P7D"}}
      time-stamping:
        tsa: {{signing-key: tsa, signing-cert: tsa}}
"""
