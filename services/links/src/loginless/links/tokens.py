"""The secrets links hands out: link tokens, staff API keys and one-time verification codes.

None of them is ever stored as given. Link tokens and codes are kept as HMAC-SHA256 under a server-side pepper
(a database dump alone cannot open a link, and a 6-digit code cannot be brute-forced offline); API keys, which
are high-entropy and long-lived, as plain SHA-256, so pepper rotation never locks a firm out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

TOKEN_BYTES = 32
TOKEN_LENGTH = 43  # base64url of 32 bytes, without padding
_TOKEN_PATTERN = re.compile(rf"^[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}$")

API_KEY_PREFIX = "ll"
_API_KEY_PATTERN = re.compile(r"^ll_(?P<key_id>[A-Za-z0-9]{1,32})_(?P<secret>[A-Za-z0-9_-]{43,128})$")

CODE_DIGITS = 6


def new_token() -> str:
    """A link token: 256 bits from the operating system's CSPRNG, URL-safe."""
    return base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).rstrip(b"=").decode()


def is_well_formed_token(token: str) -> bool:
    """Cheap shape check, so garbage never costs a database round trip."""
    return len(token) == TOKEN_LENGTH and _TOKEN_PATTERN.match(token) is not None


@dataclass(frozen=True)
class TokenHash:
    pepper_id: str
    digest: bytes


class TokenHasher:
    """HMAC-SHA256 under the configured peppers; the first one hashes new secrets.

    Rotation: put a new pepper first and keep the old ones until every link hashed with them has expired.
    """

    def __init__(self, peppers: dict[str, bytes]) -> None:
        if not peppers:
            raise ValueError("at least one token pepper is required")
        self._peppers = dict(peppers)
        self.current_pepper_id = next(iter(peppers))

    @classmethod
    def from_setting(cls, setting: str) -> TokenHasher:
        """Parse ``'id2:secret2,id1:secret1'`` (LINKS_TOKEN_PEPPERS)."""
        peppers: dict[str, bytes] = {}
        for entry in filter(None, (part.strip() for part in setting.split(","))):
            pepper_id, _, secret = entry.partition(":")
            if not pepper_id or len(secret) < 32:
                raise ValueError("LINKS_TOKEN_PEPPERS entries are 'id:secret' with a secret of 32+ characters")
            if pepper_id in peppers:
                raise ValueError(f"LINKS_TOKEN_PEPPERS names pepper {pepper_id!r} twice")
            peppers[pepper_id] = secret.encode()
        if not peppers:
            raise ValueError("LINKS_TOKEN_PEPPERS is required, e.g. 'p1:<32+ random characters>'")
        return cls(peppers)

    def hash(self, secret: str, *, context: str = "") -> TokenHash:
        return TokenHash(self.current_pepper_id, self._digest(self.current_pepper_id, secret, context))

    def candidates(self, secret: str, *, context: str = "") -> list[TokenHash]:
        """The secret's hash under every known pepper: what a lookup must try while peppers rotate."""
        return [TokenHash(pepper_id, self._digest(pepper_id, secret, context)) for pepper_id in self._peppers]

    def matches(self, secret: str, stored: TokenHash, *, context: str = "") -> bool:
        if stored.pepper_id not in self._peppers:
            return False  # hashed under a pepper that has since been retired
        return hmac.compare_digest(self._digest(stored.pepper_id, secret, context), stored.digest)

    def _digest(self, pepper_id: str, secret: str, context: str) -> bytes:
        # The context (e.g. the link id for a code) keeps equal secrets of different owners apart.
        return hmac.new(self._peppers[pepper_id], f"{context}\x00{secret}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    secret: str

    @property
    def value(self) -> str:
        return f"{API_KEY_PREFIX}_{self.key_id}_{self.secret}"


def new_api_key() -> ApiKey:
    return ApiKey(key_id=secrets.token_hex(8), secret=secrets.token_urlsafe(TOKEN_BYTES))


def parse_api_key(value: str) -> ApiKey | None:
    """``ll_<key id>_<secret>``, or ``None`` for anything else."""
    match = _API_KEY_PATTERN.match(value)
    return ApiKey(match["key_id"], match["secret"]) if match else None


def api_key_hash(key: ApiKey) -> bytes:
    return hashlib.sha256(key.value.encode()).digest()


def api_key_matches(key: ApiKey, stored_hash: bytes) -> bool:
    return hmac.compare_digest(api_key_hash(key), stored_hash)


def new_verification_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
