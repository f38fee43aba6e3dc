"""Link tokens, peppered hashes and their rotation, staff API keys, verification codes and the data cipher."""

import base64
import hashlib
import re

import pytest

from loginless.links.tokens import (
    TOKEN_LENGTH,
    TokenHash,
    TokenHasher,
    api_key_hash,
    api_key_matches,
    is_well_formed_token,
    new_api_key,
    new_token,
    new_verification_code,
    parse_api_key,
)
from loginless.shared.cipher import DataCipher

pytestmark = pytest.mark.unit

OLD_PEPPER = "old:" + "o" * 40
NEW_PEPPER = "new:" + "n" * 40


def test_tokens_are_256_random_bits_in_43_url_safe_characters():
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    for token in tokens:
        assert len(token) == TOKEN_LENGTH and re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
        assert len(base64.urlsafe_b64decode(token + "=")) == 32
        assert is_well_formed_token(token)


@pytest.mark.parametrize("token", ["", "a" * 42, "a" * 44, "a" * 42 + "=", "a" * 42 + "+", "a" * 42 + "/",
                                   " " + "a" * 42, "a" * 42 + "\n", "á" + "a" * 42, "a" * 4000])
def test_malformed_tokens_are_recognised_without_looking_anything_up(token):
    """Bad inputs tried: empty, one short, one long, padded, standard-base64 characters, surrounding whitespace,
    a non-ASCII letter, a very long string."""
    assert not is_well_formed_token(token)


def test_a_token_is_stored_as_an_hmac_under_the_current_pepper_never_as_itself_or_a_plain_hash():
    hasher = TokenHasher.from_setting(f"{NEW_PEPPER},{OLD_PEPPER}")
    token = new_token()
    stored = hasher.hash(token)
    assert stored.pepper_id == "new" and len(stored.digest) == 32
    assert stored.digest not in (token.encode(), hashlib.sha256(token.encode()).digest())
    assert hasher.matches(token, stored)
    assert not hasher.matches(new_token(), stored)
    assert not hasher.matches(token, TokenHash("new", stored.digest[:-1] + bytes([stored.digest[-1] ^ 1])))


def test_rotating_peppers_keeps_links_hashed_with_the_old_one_working_until_it_is_retired():
    token = new_token()
    before = TokenHasher.from_setting(OLD_PEPPER).hash(token)
    rotated = TokenHasher.from_setting(f"{NEW_PEPPER},{OLD_PEPPER}")
    assert rotated.hash(token).pepper_id == "new"
    assert before in rotated.candidates(token)  # a lookup tries every pepper
    assert rotated.matches(token, before)
    retired = TokenHasher.from_setting(NEW_PEPPER)
    assert not retired.matches(token, before)


def test_the_same_secret_hashes_differently_for_different_owners():
    hasher = TokenHasher.from_setting(NEW_PEPPER)
    assert hasher.hash("123456", context="link-a") != hasher.hash("123456", context="link-b")
    assert not hasher.matches("123456", hasher.hash("123456", context="link-a"), context="link-b")


@pytest.mark.parametrize("setting", ["", " , ", "nopepper", "p1:short", ":" + "x" * 40,
                                     f"{NEW_PEPPER},{NEW_PEPPER}"])
def test_unusable_pepper_settings_are_refused(setting):
    """Bad inputs tried: empty, only separators, no secret, a secret under 32 characters, no id, an id twice."""
    with pytest.raises(ValueError, match="LINKS_TOKEN_PEPPERS"):
        TokenHasher.from_setting(setting)


def test_api_keys_round_trip_and_are_kept_as_sha256_compared_in_constant_time():
    key = new_api_key()
    assert re.fullmatch(r"ll_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", key.value)
    assert parse_api_key(key.value) == key  # secrets may contain "_": only the first two split
    assert api_key_hash(key) == hashlib.sha256(key.value.encode()).digest()
    assert api_key_matches(key, api_key_hash(key)) and not api_key_matches(new_api_key(), api_key_hash(key))


@pytest.mark.parametrize("value", ["", "ll_", "ll_abc_short", "xx_abc_" + "a" * 43, "ll__" + "a" * 43,
                                   "ll_ab-c_" + "a" * 43, "ll_abc_" + "a" * 42 + "!"])
def test_malformed_api_keys_are_not_keys(value):
    """Bad inputs tried: empty, prefix only, a short secret, another prefix, no key id, a key id with a dash,
    a secret with a character outside base64url."""
    assert parse_api_key(value) is None


def test_verification_codes_are_six_digits_from_the_whole_range():
    codes = [new_verification_code() for _ in range(3000)]
    assert all(re.fullmatch(r"\d{6}", code) for code in codes)
    assert len(set(codes)) > 2900 and any(code.startswith("0") for code in codes)


def test_the_data_cipher_decrypts_only_what_it_encrypted_for_the_same_row():
    cipher = DataCipher(bytes(range(32)))
    sealed = cipher.encrypt(b"the token", associated_data="delivery:link-1:link")
    assert b"the token" not in sealed
    assert cipher.encrypt(b"the token", associated_data="delivery:link-1:link") != sealed  # fresh nonce
    assert cipher.decrypt(sealed, associated_data="delivery:link-1:link") == b"the token"
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    for ciphertext, context in ((sealed, "delivery:link-2:link"), (tampered, "delivery:link-1:link")):
        with pytest.raises(ValueError):
            cipher.decrypt(ciphertext, associated_data=context)
    another_key = DataCipher(bytes(32))
    with pytest.raises(ValueError):
        another_key.decrypt(sealed, associated_data="delivery:link-1:link")


@pytest.mark.parametrize("setting", ["", "not base64!", base64.b64encode(b"short").decode(),
                                     base64.b64encode(bytes(33)).decode()])
def test_unusable_data_keys_are_refused(setting):
    """Bad inputs tried: empty, not base64, 5 bytes, 33 bytes."""
    with pytest.raises(ValueError, match="LINKS_DATA_KEY"):
        DataCipher.from_setting(setting)
