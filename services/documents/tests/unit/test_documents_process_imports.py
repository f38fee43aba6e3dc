"""What the documents API process loads: not minio's admin-payload cryptography (pycryptodome, argon2, cffi), which
``loginless.shared.blobs`` defers until something calls it -- and which then still works; and not ``cryptography``,
whose native module alone is about 8 MB of the process's memory (the gateway's assertions are checked with PyNaCl)."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

ADMIN_CRYPTO = ("Crypto", "argon2", "cffi", "pycparser")


def run(code: str) -> str:
    """In a fresh interpreter: what one process imports is only visible there."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_api_process_never_loads_minios_admin_crypto():
    loaded = run("import sys; import loginless.documents.__main__, loginless.documents.bootstrap, minio;"
                 f" print(sorted(m for m in {ADMIN_CRYPTO!r} if m in sys.modules))")
    assert loaded == "[]"


def test_the_api_process_never_loads_cryptography():
    assert run("""
import sys
import loginless.documents.__main__
from loginless.documents.bootstrap import create_app
from loginless.documents.settings import DocumentsSettings
from loginless.shared.web.assertion import generate_key_pair
create_app(DocumentsSettings(database_url="postgresql://nobody@127.0.0.1:9/none",
                             assertion_public_key=generate_key_pair()[1]))
print("cryptography" in sys.modules)
""") == "False"


def test_minios_admin_crypto_still_works_when_called():
    assert run("""
import io, sys
import loginless.shared.blobs
from minio import MinioAdmin
from minio.crypto import decrypt, encrypt
from urllib3.response import HTTPResponse
assert "Crypto" not in sys.modules
sealed = encrypt(b"admin payload", "secret-key")
opened = decrypt(HTTPResponse(body=io.BytesIO(sealed), preload_content=False), "secret-key")
print(opened.decode(), "Crypto" in sys.modules, type(sys.modules["minio.crypto"].DecryptReader).__name__)
""") == "admin payload True type"
