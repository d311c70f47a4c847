"""Security primitives: passwords, API keys, sealed verification links, landlord codes."""

from __future__ import annotations

import base64
import math
import re

import pytest

from govchain.domain import security
from govchain.errors import InputError, LinkTokenError

# Cheap argon2id costs: the tests check behaviour, not the work factor.
FAST = security.password_hasher(time_cost=1, memory_cost_kib=8, parallelism=1)


# -- passwords --------------------------------------------------------------------------------

def test_password_hash_verifies_and_rejects_wrong_password() -> None:
    stored = security.hash_password("Korrekt Pferd Batterie", hasher=FAST)
    assert stored.startswith("$argon2id$")
    assert "Korrekt" not in stored
    assert security.verify_password(stored, "Korrekt Pferd Batterie", hasher=FAST)
    assert not security.verify_password(stored, "korrekt pferd batterie", hasher=FAST)
    assert not security.verify_password(stored, "", hasher=FAST)


def test_same_password_hashes_differently() -> None:
    assert security.hash_password("pw", hasher=FAST) != security.hash_password("pw", hasher=FAST)


@pytest.mark.parametrize("broken", ["", "nonsense", "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB",
                                    "$2b$12$abcdefghijklmnopqrstuv"])
def test_verify_password_never_raises_for_broken_hashes(broken: str) -> None:
    assert security.verify_password(broken, "pw", hasher=FAST) is False


def test_verify_password_without_stored_hash_is_false() -> None:
    # An unknown user: still one argon2 check (against a dummy hash), and never True.
    assert security.verify_password(None, "pw", hasher=FAST) is False


def test_needs_rehash_when_costs_change() -> None:
    cheap = security.hash_password("pw", hasher=FAST)
    assert not security.needs_rehash(cheap, hasher=FAST)
    assert security.needs_rehash(cheap)  # the default hasher costs more
    assert security.needs_rehash("not a hash")


def test_default_hasher_is_argon2id_with_sane_costs() -> None:
    stored = security.hash_password("pw")
    params = re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", stored)
    assert params is not None
    memory_kib, time_cost, _ = map(int, params.groups())
    assert memory_kib >= 19 * 1024 and time_cost >= 2  # at least OWASP's argon2id minimum
    assert security.verify_password(stored, "pw")
    assert not security.needs_rehash(stored)


# -- API keys ---------------------------------------------------------------------------------

def test_api_key_format_and_hash() -> None:
    key, key_hash = security.new_api_key()
    assert key.startswith(security.API_KEY_PREFIX)
    body = key[len(security.API_KEY_PREFIX):]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body)
    assert len(base64.urlsafe_b64decode(body + "=")) == 32
    assert key_hash == security.api_key_hash(key)
    assert re.fullmatch(r"[0-9a-f]{64}", key_hash)
    assert key not in key_hash and body not in key_hash


def test_api_keys_are_unique() -> None:
    keys = {security.new_api_key()[0] for _ in range(200)}
    assert len(keys) == 200


def test_api_key_matches_in_constant_time_helper() -> None:
    key, key_hash = security.new_api_key()
    other, _ = security.new_api_key()
    assert security.api_key_matches(key, key_hash)
    assert not security.api_key_matches(other, key_hash)
    assert security.api_key_prefix(key) == key[:12]
    assert security.api_key_prefix(key).startswith("gck_")


# -- verification links -----------------------------------------------------------------------

def test_link_token_has_120_bits_of_crockford_base32() -> None:
    token = security.new_link_token()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{24}", token)
    assert len(security.LINK_TOKEN_ALPHABET) ** 24 == 2 ** 120
    assert len({security.new_link_token() for _ in range(200)}) == 200


def test_printed_link_code_is_read_back_as_typed() -> None:
    token = security.new_link_token()
    code = security.format_link_code(token)
    assert re.fullmatch(r"([0-9A-Z]{4}-){5}[0-9A-Z]{4}", code)
    assert security.normalize_link_code(code) == token
    assert security.normalize_link_code(" " + code.lower().replace("-", " ")) == token
    typed = "O" + token[1:] if token[0] == "0" else token
    assert security.normalize_link_code(typed) == token


@pytest.mark.parametrize("text", ["", "ABCD", "U" * 24, "A" * 25, "Ä" * 24])
def test_malformed_link_codes_are_refused(text: str) -> None:
    with pytest.raises(InputError):
        security.normalize_link_code(text)


def test_seal_and_open_round_trip() -> None:
    token = security.new_link_token()
    plaintext = '{"name": "Müller"}'.encode()
    sealed = security.seal_link(token, "link-1", plaintext)
    assert plaintext not in sealed
    assert security.open_link(token, "link-1", sealed) == plaintext


def test_sealing_twice_uses_fresh_nonces() -> None:
    token = security.new_link_token()
    a = security.seal_link(token, "link-1", b"same")
    b = security.seal_link(token, "link-1", b"same")
    assert a != b and a[:12] != b[:12]


def test_wrong_token_fails() -> None:
    sealed = security.seal_link(security.new_link_token(), "link-1", b"data")
    with pytest.raises(LinkTokenError):
        security.open_link(security.new_link_token(), "link-1", sealed)


def test_other_link_id_fails() -> None:
    token = security.new_link_token()
    sealed = security.seal_link(token, "link-1", b"data")
    with pytest.raises(LinkTokenError):
        security.open_link(token, "link-2", sealed)


@pytest.mark.parametrize("position", [0, 11, 12, -1])
def test_tampered_ciphertext_fails(position: int) -> None:
    token = security.new_link_token()
    sealed = bytearray(security.seal_link(token, "link-1", b"data to protect"))
    sealed[position] ^= 0x01
    with pytest.raises(LinkTokenError):
        security.open_link(token, "link-1", bytes(sealed))


def test_truncated_ciphertext_fails() -> None:
    token = security.new_link_token()
    sealed = security.seal_link(token, "link-1", b"data")
    for cut in (0, 5, 12, 27, len(sealed) - 1):
        with pytest.raises(LinkTokenError):
            security.open_link(token, "link-1", sealed[:cut])


@pytest.mark.parametrize("bad", ["", "short", "x" * 42, "x" * 44, "a+b/" * 10 + "abc",
                                 "ä" * 43])
def test_malformed_token_is_refused(bad: str) -> None:
    with pytest.raises(LinkTokenError):
        security.link_lookup(bad)
    with pytest.raises(LinkTokenError):
        security.open_link(bad, "link-1", b"\x00" * 40)


def test_lookup_is_stable_and_reveals_neither_token_nor_key() -> None:
    token = security.new_link_token()
    lookup = security.link_lookup(token)
    assert lookup == security.link_lookup(token)
    assert re.fullmatch(r"[0-9a-f]{64}", lookup)
    assert lookup != security.link_lookup(security.new_link_token())
    assert token not in lookup
    key = security._derive(token, security._LINK_KEY_INFO)
    assert bytes.fromhex(lookup) != key
    # The lookup is not a key that opens the link either.
    sealed = security.seal_link(token, "link-1", b"data")
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    with pytest.raises(InvalidTag):
        AESGCM(bytes.fromhex(lookup)).decrypt(sealed[:12], sealed[12:], b"link-1")


# -- landlord codes ---------------------------------------------------------------------------

def test_landlord_code_format_and_alphabet() -> None:
    alphabet = security.LANDLORD_CODE_ALPHABET
    assert len(set(alphabet)) == len(alphabet) == 30
    assert not set("01OIL") & set(alphabet)
    assert 12 * math.log2(len(alphabet)) >= 50
    for _ in range(200):
        code = security.new_landlord_code()
        assert re.fullmatch(r"[%s]{4}-[%s]{4}-[%s]{4}" % ((alphabet,) * 3), code)


def test_landlord_codes_are_unique_and_use_the_whole_alphabet() -> None:
    codes = [security.new_landlord_code() for _ in range(500)]
    assert len(set(codes)) == 500
    used = set("".join(codes).replace("-", ""))
    assert used == set(security.LANDLORD_CODE_ALPHABET)


@pytest.mark.parametrize("typed", ["abcd-efgh-2345", "ABCDEFGH2345", " abcd efgh 2345 ",
                                   "Abcd\u2013Efgh\u20132345", "ab-cd-ef-gh-23-45"])
def test_normalize_landlord_code_accepts_what_people_type(typed: str) -> None:
    assert security.normalize_landlord_code(typed) == "ABCD-EFGH-2345"


def test_normalize_round_trips_new_codes() -> None:
    code = security.new_landlord_code()
    assert security.normalize_landlord_code(code.lower().replace("-", " ")) == code


@pytest.mark.parametrize("bad", ["", "ABCD-EFGH-234", "ABCD-EFGH-23456", "ABCD-EFGH-2340",
                                 "ABCD-EFGH-234O", "ABCD-EFGH-234I", "ABCD-EFGH-234L",
                                 "ABCD-EFGH-234U", "ABCD_EFGH_2345"])
def test_normalize_landlord_code_refuses_non_codes(bad: str) -> None:
    with pytest.raises(InputError):
        security.normalize_landlord_code(bad)


# -- nothing secret in repr -------------------------------------------------------------------

def test_records_keep_secrets_out_of_repr() -> None:
    from datetime import UTC, datetime

    from govchain.adapters.db.repositories import ApiKeyRecord, LinkRecord, UserRecord

    at = datetime(2026, 1, 1, tzinfo=UTC)
    pw_hash = security.hash_password("geheim", hasher=FAST)
    user = UserRecord(1, "anna", pw_hash, "clerk", "05334002", "Anna", at, None)
    key, key_hash = security.new_api_key()
    api_key = ApiKeyRecord(1, "Polizei Aachen", security.api_key_prefix(key), key_hash, at,
                           None, None)
    token = security.new_link_token()
    lookup = security.link_lookup(token)
    link = LinkRecord("l1", "urn:uuid:x", lookup, security.seal_link(token, "l1", b"x"), (),
                      None, at, None, None)
    text = repr(user) + repr(api_key) + repr(link)
    for secret in (pw_hash, key_hash, key, lookup, "ciphertext"):
        assert secret not in text
