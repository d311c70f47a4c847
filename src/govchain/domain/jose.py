"""The part of JOSE (JWS, JWK, JWT) that govchain's SD-JWT credentials and OpenID flows need:
ES256 (ECDSA with P-256 and SHA-256) in compact serialization, nothing else.

One algorithm means no algorithm confusion: a token that names ``none``, an HMAC or an RSA
algorithm is refused before any key is looked at, and so is ``crit``, whose extensions govchain
does not understand. Everything from outside is read strictly: base64url without padding and
in its one canonical spelling, JSON through ``strictjson`` (duplicate member names refused).
Decoding and verifying are separate steps, so the caller can pick the key from the header and
payload (``kid``, ``iss``) in between.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from govchain.domain import strictjson
from govchain.errors import InputError

ALG: Final = "ES256"
MAX_JWT_LENGTH: Final = 16384
_COORDINATE_BYTES: Final = 32
_SIGNATURE_BYTES: Final = 64
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*")


class JoseError(InputError):
    """A JWS, JWK or JWT is malformed, uses what govchain does not accept, is badly signed or
    outside its validity period. Services map it to the protocol's error (e.g. OAuth's
    ``invalid_request``); the message is German and meant for people."""


# -- base64url ----------------------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515, section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, what: str) -> bytes:
    """Inverse of :func:`b64url_encode`. Only the canonical spelling is accepted: no padding,
    no other characters, no set bits after the last full byte, so that one byte string has
    exactly one text (what is signed or hashed cannot be varied)."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise JoseError(f"{what}: kein gültiges base64url (ohne Auffüllzeichen)")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as err:
        raise JoseError(f"{what}: kein gültiges base64url") from err
    if b64url_encode(data) != text:
        raise JoseError(f"{what}: base64url nicht in kanonischer Form")
    return data


def json_bytes(value: Any) -> bytes:
    """The compact UTF-8 JSON govchain signs: no spaces, characters unescaped."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as err:  # UnicodeEncodeError (lone surrogates) is a ValueError
        raise JoseError(f"Kein JSON-Wert: {err}") from err


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = strictjson.loads(raw)
    except InputError as err:
        raise JoseError(f"{what}: {err}") from err
    if not isinstance(value, dict):
        raise JoseError(f"{what}: kein JSON-Objekt")
    return value


# -- JWK ----------------------------------------------------------------------------------------


def _require_p256(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> None:
    if not isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        raise JoseError("Erwartet einen EC-Schlüssel auf P-256")
    if not isinstance(key.curve, ec.SECP256R1):
        raise JoseError(f"Erwartet einen Schlüssel auf P-256, nicht {key.curve.name}")


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK (RFC 7518, section 6.2) of a P-256 key."""
    _require_p256(key)
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(_COORDINATE_BYTES, "big")),
        "y": b64url_encode(numbers.y.to_bytes(_COORDINATE_BYTES, "big")),
    }


def public_key_from_jwk(jwk: object) -> ec.EllipticCurvePublicKey:
    """The P-256 key of a public JWK; JoseError for any other key type or curve, coordinates
    of the wrong length, a point not on the curve, and for a JWK with a private part ``d``
    (a key sent that way has been disclosed and must not be trusted)."""
    if not isinstance(jwk, Mapping):
        raise JoseError("JWK: kein JSON-Objekt")
    if "d" in jwk:
        raise JoseError("JWK enthält einen privaten Schlüssel (d); erwartet nur den öffentlichen")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise JoseError("JWK: erwartet kty EC und crv P-256")
    x = b64url_decode(jwk.get("x", ""), "JWK x")
    y = b64url_decode(jwk.get("y", ""), "JWK y")
    if len(x) != _COORDINATE_BYTES or len(y) != _COORDINATE_BYTES:
        raise JoseError(f"JWK: x und y müssen je {_COORDINATE_BYTES} Bytes lang sein")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    except ValueError as err:
        raise JoseError("JWK: kein Punkt auf P-256") from err


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The JWK SHA-256 thumbprint (RFC 7638) of a P-256 public JWK, base64url: the hash of the
    required members crv, kty, x, y in this order, compact JSON."""
    public_key_from_jwk(jwk)
    required = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"], "y": jwk["y"]}
    return b64url_encode(hashlib.sha256(json_bytes(required)).digest())


# -- JWS ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Jws:
    """A decoded, not yet verified compact JWS: ``signing_input`` is what the signature covers
    (the first two parts as sent), ``signature`` the raw r‖s."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def sign_jwt(header: Mapping[str, Any], payload: Mapping[str, Any],
             private_key: ec.EllipticCurvePrivateKey) -> str:
    """A compact JWS of ``payload`` signed with ES256; ``alg`` is set (any other is refused).
    The signature is randomized: each call gives another token."""
    _require_p256(private_key)
    alg = header.get("alg", ALG)
    if alg != ALG:
        raise JoseError(f"Nur {ALG} wird unterstützt, nicht {alg!r}")
    if "crit" in header:
        raise JoseError("crit wird nicht unterstützt")
    full_header = {"alg": ALG, **{name: value for name, value in header.items() if name != "alg"}}
    signing_input = (b64url_encode(json_bytes(full_header)) + "."
                     + b64url_encode(json_bytes(dict(payload))))
    der = private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(_COORDINATE_BYTES, "big") + s.to_bytes(_COORDINATE_BYTES, "big")
    return signing_input + "." + b64url_encode(signature)


def _check_alg(alg: object) -> None:
    if alg == ALG:
        return
    if alg is None:
        raise JoseError("JWT-Header ohne alg")
    if not isinstance(alg, str):
        raise JoseError("JWT-Header: alg ist keine Zeichenkette")
    if alg.lower() == "none":
        raise JoseError("Unsignierte JWTs (alg none) werden nicht angenommen")
    if alg.startswith("HS"):
        raise JoseError(f"Symmetrische Signaturen ({alg}) werden nicht angenommen; nur {ALG}")
    raise JoseError(f"Algorithmus {alg[:20]!r} wird nicht unterstützt; nur {ALG}")


def decode_jwt(token: str, *, max_length: int = MAX_JWT_LENGTH) -> Jws:
    """The parts of a compact JWS with a JSON object as payload, read strictly and checked for
    ES256 and a 64-byte signature. Does not verify the signature: see :func:`verify_jws`."""
    if not isinstance(token, str):
        raise JoseError("JWT: keine Zeichenkette")
    if len(token) > max_length:
        raise JoseError(f"JWT zu lang (höchstens {max_length} Zeichen)")
    parts = token.split(".")
    if len(parts) != 3:
        raise JoseError("JWT: erwartet drei durch Punkte getrennte Teile")
    header = _json_object(b64url_decode(parts[0], "JWT-Header"), "JWT-Header")
    _check_alg(header.get("alg"))
    if "crit" in header:
        raise JoseError("JWT-Header: crit wird nicht unterstützt")
    payload = _json_object(b64url_decode(parts[1], "JWT-Inhalt"), "JWT-Inhalt")
    signature = b64url_decode(parts[2], "JWT-Signatur")
    if len(signature) != _SIGNATURE_BYTES:
        raise JoseError(f"JWT-Signatur: erwartet {_SIGNATURE_BYTES} Bytes, nicht {len(signature)}")
    return Jws(header=header, payload=payload,
               signing_input=(parts[0] + "." + parts[1]).encode("ascii"), signature=signature)


def verify_jws(jws: Jws, key: ec.EllipticCurvePublicKey) -> None:
    """JoseError unless ``jws.signature`` is an ES256 signature of ``jws.signing_input`` by
    ``key``. High s values are accepted, as JWS does not forbid them."""
    _require_p256(key)
    if len(jws.signature) != _SIGNATURE_BYTES:
        raise JoseError("JWT-Signatur ungültig")
    der = encode_dss_signature(int.from_bytes(jws.signature[:_COORDINATE_BYTES], "big"),
                               int.from_bytes(jws.signature[_COORDINATE_BYTES:], "big"))
    try:
        key.verify(der, jws.signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as err:
        raise JoseError("JWT-Signatur ungültig") from err


# -- JWT claims ---------------------------------------------------------------------------------


def check_times(payload: Mapping[str, Any], *, now: int, leeway: int = 60,
                require: Iterable[str] = ()) -> None:
    """JoseError unless ``exp``, ``nbf`` and ``iat`` (where present, or named in ``require``)
    are whole seconds since 1970 and ``now`` lies within the validity they give, allowing
    ``leeway`` seconds of clock difference."""
    for name in require:
        if name not in payload:
            raise JoseError(f"JWT ohne {name}")
    for name in ("exp", "nbf", "iat"):
        value = payload.get(name)
        if name in payload and (not isinstance(value, int) or isinstance(value, bool)):
            raise JoseError(f"JWT: {name} ist keine ganze Zahl von Sekunden")
    exp, nbf, iat = payload.get("exp"), payload.get("nbf"), payload.get("iat")
    if exp is not None and exp <= now - leeway:
        raise JoseError("Das JWT ist abgelaufen (exp)")
    if nbf is not None and nbf > now + leeway:
        raise JoseError("Das JWT ist noch nicht gültig (nbf)")
    if iat is not None and iat > now + leeway:
        raise JoseError("Das JWT ist in der Zukunft ausgestellt (iat)")
