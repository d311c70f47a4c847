"""Security primitives of the service: passwords, API keys, verification links, landlord codes.

Secrets never reach the database in a usable form: passwords are stored as argon2id hashes, API keys
as SHA-256 hashes (they are 256-bit random, so a fast hash is enough), and a verification link's
token only as an HKDF-derived lookup value beside the document sealed with a key derived from the
same token. A copy of the database therefore opens no link and reveals no disclosed document.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from govchain.errors import InputError, LinkTokenError

# -- passwords --------------------------------------------------------------------------------

# RFC 9106's second recommended option (64 MiB, 3 passes): about 50 ms per hash on a server core.
DEFAULT_PASSWORD_HASHER = PasswordHasher(
    time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32, salt_len=16, type=Type.ID,
)


def password_hasher(*, time_cost: int, memory_cost_kib: int,
                    parallelism: int = 1) -> PasswordHasher:
    """An argon2id hasher with other costs; tests use a cheap one."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib,
                          parallelism=parallelism, hash_len=32, salt_len=16, type=Type.ID)


_dummy_hashes: dict[tuple[int, int, int], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hashes[key]


def hash_password(password: str, *, hasher: PasswordHasher | None = None) -> str:
    """The argon2id hash (PHC string with its parameters and salt) to store for `password`."""
    return (hasher or DEFAULT_PASSWORD_HASHER).hash(password)


def verify_password(stored_hash: str | None, password: str, *,
                    hasher: PasswordHasher | None = None) -> bool:
    """True if `password` matches `stored_hash`; never raises for a wrong or broken hash.

    With no stored hash (unknown user) it still spends the time of one check against a dummy hash,
    so the answer's timing does not tell whether a username exists.
    """
    h = hasher or DEFAULT_PASSWORD_HASHER
    if stored_hash is None:
        with contextlib.suppress(VerificationError):
            h.verify(_dummy_hash(h), password)
        return False
    try:
        return h.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, *, hasher: PasswordHasher | None = None) -> bool:
    """True if `stored_hash` was made with other parameters than the hasher's (rehash on login)."""
    try:
        return (hasher or DEFAULT_PASSWORD_HASHER).check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


# -- API keys of institutional verifiers ------------------------------------------------------

API_KEY_PREFIX = "gck_"
_API_KEY_BYTES = 32
_API_KEY_DISPLAY = len(API_KEY_PREFIX) + 8


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_api_key() -> tuple[str, str]:
    """A fresh API key (shown once, never stored) and the hash to store for it."""
    key = API_KEY_PREFIX + _b64url(secrets.token_bytes(_API_KEY_BYTES))
    return key, api_key_hash(key)


def api_key_hash(key: str) -> str:
    """SHA-256 of the key, hex: the value stored and looked up."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def api_key_prefix(key: str) -> str:
    """The first characters of a key, stored to let people tell their keys apart."""
    return key[:_API_KEY_DISPLAY]


def api_key_matches(key: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented key with a stored hash."""
    return hmac.compare_digest(api_key_hash(key), stored_hash)


_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015]+")


# -- verification links -----------------------------------------------------------------------

# Crockford's base32 (no I, L, O, U): a token can be printed beside the QR code and typed in by
# hand; 24 symbols carry 120 bits from the OS CSPRNG.
LINK_TOKEN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LINK_TOKEN_LENGTH = 24
_LINK_CODE_GROUP = 4
_LINK_TOKEN_RE = re.compile(r"[0-9A-HJKMNP-TV-Z]{24}")
_LINK_LOOKUP_INFO = b"govchain/link/lookup/v1"
_LINK_KEY_INFO = b"govchain/link/aes-256-gcm/v1"
_NONCE_BYTES = 12
_TYPED_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_link_token() -> str:
    """A fresh link token: 120 bits from the OS CSPRNG as 24 symbols of Crockford's base32."""
    return "".join(secrets.choice(LINK_TOKEN_ALPHABET) for _ in range(_LINK_TOKEN_LENGTH))


def format_link_code(token: str) -> str:
    """The token as printed for people: XXXX-XXXX-XXXX-XXXX-XXXX-XXXX."""
    g = _LINK_CODE_GROUP
    return "-".join(token[i:i + g] for i in range(0, len(token), g))


def normalize_link_code(text: str) -> str:
    """The token a person typed (any case, dashes or spaces anywhere, O for 0, I or L for 1);
    InputError if it cannot be one."""
    raw = _SEPARATORS.sub("", text).upper().translate(_TYPED_LOOKALIKES)
    if not _LINK_TOKEN_RE.fullmatch(raw):
        raise InputError(f"Das ist kein gültiger Prüfcode: erwartet werden {_LINK_TOKEN_LENGTH} "
                         "Zeichen wie 7K3M-…, in Gruppen zu vier")
    return raw


def _derive(token: str, info: bytes) -> bytes:
    # The token carries 120 bits of entropy, so HKDF needs no salt; the info labels keep the
    # lookup and the key independent (knowing one tells nothing about the other).
    if not _LINK_TOKEN_RE.fullmatch(token):
        raise LinkTokenError("Ungültiger oder unbekannter Prüflink")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        token.encode("ascii"))


def link_lookup(token: str) -> str:
    """The value stored to find a link by its token (hex); it cannot be turned back into the token
    nor into the link's key. Raises LinkTokenError for a malformed token."""
    return _derive(token, _LINK_LOOKUP_INFO).hex()


def seal_link(token: str, link_id: str, plaintext: bytes) -> bytes:
    """AES-256-GCM of `plaintext` under the token's key, bound to `link_id`: nonce ‖ ciphertext."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(_derive(token, _LINK_KEY_INFO)).encrypt(
        nonce, plaintext, link_id.encode("utf-8"))


def open_link(token: str, link_id: str, sealed: bytes) -> bytes:
    """The plaintext sealed by seal_link; LinkTokenError for a wrong token, another link id or
    altered data."""
    key = _derive(token, _LINK_KEY_INFO)
    if len(sealed) < _NONCE_BYTES + 16:
        raise LinkTokenError("Ungültiger oder unbekannter Prüflink")
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:],
                                   link_id.encode("utf-8"))
    except InvalidTag as err:
        raise LinkTokenError("Ungültiger oder unbekannter Prüflink") from err


# -- landlord codes (Zuordnungsmerkmal, §19(4) BMG) -------------------------------------------

# Digits and capitals without 0/O, 1/I/L and U (U/V): 30 symbols; 12 of them carry 58.9 bits.
LANDLORD_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_LANDLORD_CODE_LENGTH = 12
_LANDLORD_CODE_GROUP = 4


def _format_landlord_code(raw: str) -> str:
    g = _LANDLORD_CODE_GROUP
    return "-".join(raw[i:i + g] for i in range(0, len(raw), g))


def new_landlord_code() -> str:
    """A fresh Zuordnungsmerkmal in the form XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(LANDLORD_CODE_ALPHABET) for _ in range(_LANDLORD_CODE_LENGTH))
    return _format_landlord_code(raw)


def normalize_landlord_code(text: str) -> str:
    """The canonical XXXX-XXXX-XXXX form of a code as a person typed it (any case, spaces or
    dashes anywhere or none); InputError if it cannot be a code."""
    raw = _SEPARATORS.sub("", text).upper()
    if len(raw) != _LANDLORD_CODE_LENGTH or any(c not in LANDLORD_CODE_ALPHABET for c in raw):
        raise InputError(
            f"{text.strip()[:40]!r} ist kein gültiges Zuordnungsmerkmal: erwartet werden "
            f"{_LANDLORD_CODE_LENGTH} Zeichen wie ABCD-EFGH-2345 (ohne 0, O, 1, I, L und U)"
        )
    return _format_landlord_code(raw)
