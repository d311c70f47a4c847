"""Bearer tokens of logged-in users: HMAC-SHA256 over user id, role and expiry.

The key is 256 random bits, made once per home in ``secrets/token-key`` (mode 0600). A token only
says who logged in and until when; whether that user may still act is looked up on every request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from govchain.errors import ConfigurationError

TOKEN_KEY_BYTES = 32
_VERSION = "v1"


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    role: str
    expires: int  # Unix seconds


class InvalidTokenError(Exception):
    """A token is malformed, forged or expired (deliberately one error for all three)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_key(home: Path) -> bytes:
    """The home's token key, created on first use; no other process can read it."""
    path = home / "secrets" / "token-key"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(TOKEN_KEY_BYTES))
    key = path.read_bytes()
    if len(key) != TOKEN_KEY_BYTES:
        raise ConfigurationError(f"{path} ist kein gültiger Token-Schlüssel ({len(key)} Bytes)")
    return key


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, f"{_VERSION}.{payload}".encode("ascii"), hashlib.sha256).digest())


def issue_token(key: bytes, *, user_id: int, role: str, at: datetime, ttl: timedelta) -> str:
    claims = {"sub": user_id, "role": role, "exp": int((at + ttl).timestamp())}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    return f"{_VERSION}.{payload}.{_mac(key, payload)}"


def read_token(key: bytes, token: str, *, at: datetime) -> TokenClaims:
    """The claims of a token this key signed and that has not expired at `at`."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        raise InvalidTokenError
    _, payload, mac = parts
    try:
        expected = _mac(key, payload)
        ok = hmac.compare_digest(expected.encode("ascii"), mac.encode("ascii"))
    except UnicodeEncodeError:
        ok = False
    if not ok:
        raise InvalidTokenError
    try:
        claims = json.loads(_unb64(payload))
        result = TokenClaims(user_id=int(claims["sub"]), role=str(claims["role"]),
                             expires=int(claims["exp"]))
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        raise InvalidTokenError from err
    if result.expires <= at.timestamp():
        raise InvalidTokenError
    return result
