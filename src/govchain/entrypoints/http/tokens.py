"""Bearer tokens of logged-in users: HMAC-SHA256 over user id, role and expiry.

The key is 256 random bits, made once per home in ``secrets/token-key`` (mode 0600). A token only
says who logged in, until when, and its own random id; whether that user may still act, and
whether the token was ended by logging out (its id in ``revoked_tokens``), is looked up on every
request.
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

from govchain.adapters.files import private_dir
from govchain.errors import ConfigurationError

TOKEN_KEY_BYTES = 32
TOKEN_ID_BYTES = 16  # 22 characters of base64url; a token without one (older) is refused
_VERSION = "v1"


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    role: str
    expires: int  # Unix seconds
    token_id: str  # random, so that logging out can end this token alone (revoked_tokens)


class InvalidTokenError(Exception):
    """A token is malformed, forged or expired (deliberately one error for all three)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_key(home: Path) -> bytes:
    """The home's token key, created on first use; no other process can read it."""
    path = home / "secrets" / "token-key"
    private_dir(home)
    private_dir(path.parent)
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
    claims = {"sub": user_id, "role": role, "exp": int((at + ttl).timestamp()),
              "jti": secrets.token_urlsafe(TOKEN_ID_BYTES)}
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
                             expires=int(claims["exp"]), token_id=str(claims["jti"]))
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        raise InvalidTokenError from err
    if result.expires <= at.timestamp():
        raise InvalidTokenError
    return result


# -- device cookies ----------------------------------------------------------------------------

DEVICE_COOKIE = "gc_device"
DEVICE_COOKIE_MAX_AGE = 180 * 24 * 3600
_DEVICE_INFO = b"govchain/login/device/v1"


def _device_mac(key: bytes, username: str, device: str) -> str:
    device_key = hmac.new(key, _DEVICE_INFO, hashlib.sha256).digest()
    message = f"{username.strip().casefold()}|{device}".encode()
    return _b64(hmac.new(device_key, message, hashlib.sha256).digest())


def issue_device_cookie(key: bytes, username: str) -> str:
    """A device cookie (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): proof that
    this browser once logged in as `username`, so that failures elsewhere do not lock it out. It
    names neither the user nor a session: a random device id and an HMAC over it and the
    username."""
    device = secrets.token_urlsafe(16)
    return f"{device}.{_device_mac(key, username, device)}"


def known_device(key: bytes, username: str, cookie: str | None) -> str | None:
    """The device id of a device cookie issued for `username`, else None."""
    if not cookie or cookie.count(".") != 1:
        return None
    device, mac = cookie.split(".")
    try:
        ok = hmac.compare_digest(_device_mac(key, username, device).encode("ascii"),
                                 mac.encode("ascii"))
    except UnicodeEncodeError:
        return None
    return device if ok and device else None
