"""Encryption at rest for the few secrets a service must keep readable: links' tokens waiting to be delivered or
kept for sending a link again, its verification codes, and notifications' webhook signing secrets.

AES-256-GCM (authenticated: a row altered or moved to another row fails to decrypt) with a random 96-bit
nonce per message. The associated data binds each ciphertext to the row it belongs to.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class DataCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the data key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    @classmethod
    def from_setting(cls, setting: str, *, name: str = "LINKS_DATA_KEY") -> DataCipher:
        """``name`` (a setting): base64 of 32 random bytes (``openssl rand -base64 32``)."""
        try:
            key = base64.b64decode(setting, validate=True)
        except binascii.Error as error:
            raise ValueError(f"{name} must be base64 of 32 random bytes") from error
        if len(key) != 32:
            raise ValueError(f"{name} is required: base64 of 32 random bytes (openssl rand -base64 32)")
        return cls(key)

    def encrypt(self, plaintext: bytes, *, associated_data: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated_data.encode())

    def decrypt(self, ciphertext: bytes, *, associated_data: str) -> bytes:
        """Raise ``ValueError`` if the ciphertext was altered, belongs to another row or another key."""
        try:
            return self._aead.decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], associated_data.encode())
        except InvalidTag as error:
            raise ValueError("the ciphertext does not decrypt under this key and associated data") from error
