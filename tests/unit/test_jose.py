"""jose: ES256 JWS with real keys — round trips, and every token govchain must not accept."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.domain import jose
from govchain.domain.jose import JoseError
from govchain.errors import InputError

KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _token(header: Any, payload: Any, signature: bytes = b"\x01" * 64) -> str:
    """A token with arbitrary parts, as an attacker would build it."""
    def part(value: Any) -> str:
        return _b64(value if isinstance(value, bytes) else json.dumps(value).encode())
    return f"{part(header)}.{part(payload)}.{_b64(signature)}"


# -- base64url ----------------------------------------------------------------------------------


@given(st.binary(max_size=200))
def test_b64url_round_trips_without_padding(data: bytes) -> None:
    text = jose.b64url_encode(data)
    assert "=" not in text
    assert jose.b64url_decode(text, "x") == data


@pytest.mark.parametrize("text", ["YQ==", "YQ=", "Y", "a+b/", "YW Jj", "YR", "YWJj\n", "ä"])
def test_b64url_decode_refuses_padding_other_characters_and_non_canonical_forms(text: str) -> None:
    # "YR" decodes to b"a" like "YQ" but with non-zero trailing bits
    with pytest.raises(JoseError, match="base64url"):
        jose.b64url_decode(text, "x")


def test_jose_errors_are_input_errors() -> None:
    assert issubclass(JoseError, InputError)


# -- JWK ----------------------------------------------------------------------------------------


def test_jwk_round_trip_and_thumbprint() -> None:
    public = KEY.public_key()
    jwk = jose.public_jwk(public)
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    assert len(jose.b64url_decode(jwk["x"], "x")) == 32 == len(jose.b64url_decode(jwk["y"], "y"))
    assert jose.public_key_from_jwk(jwk).public_numbers() == public.public_numbers()
    # RFC 7638: members crv, kty, x, y in this order, no whitespace; others ignored
    expected = hashlib.sha256(
        f'{{"crv":"P-256","kty":"EC","x":"{jwk["x"]}","y":"{jwk["y"]}"}}'.encode()).digest()
    assert jose.jwk_thumbprint({**jwk, "kid": "k1", "use": "sig"}) == _b64(expected)
    assert jose.jwk_thumbprint(jwk) != jose.jwk_thumbprint(jose.public_jwk(OTHER_KEY.public_key()))


def _jwk_variants() -> list[tuple[str, Any]]:
    jwk = jose.public_jwk(KEY.public_key())
    d = _b64(KEY.private_numbers().private_value.to_bytes(32, "big"))
    x = jose.b64url_decode(jwk["x"], "x")
    return [
        ("private", {**jwk, "d": d}),
        ("rsa", {**jwk, "kty": "RSA"}),
        ("curve", {**jwk, "crv": "P-384"}),
        ("short x", {**jwk, "x": _b64(x[1:])}),
        ("padded x", {**jwk, "x": jwk["x"] + "="}),
        ("missing y", {k: v for k, v in jwk.items() if k != "y"}),
        ("not on curve", {**jwk, "y": _b64(bytes(31) + b"\x01")}),
        ("not an object", [jwk]),
    ]


@pytest.mark.parametrize(("case", "jwk"), _jwk_variants(), ids=[c for c, _ in _jwk_variants()])
def test_public_key_from_jwk_refuses(case: str, jwk: Any) -> None:
    with pytest.raises(JoseError):
        jose.public_key_from_jwk(jwk)


# -- JWS ----------------------------------------------------------------------------------------


def test_sign_decode_verify_round_trip() -> None:
    payload = {"iss": "https://stadt.example", "name": "Müller", "n": 3}
    token = jose.sign_jwt({"kid": "k1", "typ": "JWT"}, payload, KEY)
    jws = jose.decode_jwt(token)
    assert jws.header == {"alg": "ES256", "kid": "k1", "typ": "JWT"}
    assert list(jws.header) == ["alg", "kid", "typ"]
    assert jws.payload == payload
    assert jws.signing_input == token.rsplit(".", 1)[0].encode()
    assert len(jws.signature) == 64
    jose.verify_jws(jws, KEY.public_key())
    # compact JSON, UTF-8 unescaped
    assert jose.b64url_decode(token.split(".")[1], "p") == json.dumps(
        payload, separators=(",", ":"), ensure_ascii=False).encode()


def test_signature_is_raw_r_s_of_es256() -> None:
    jws = jose.decode_jwt(jose.sign_jwt({}, {"a": 1}, KEY))
    r, s = int.from_bytes(jws.signature[:32], "big"), int.from_bytes(jws.signature[32:], "big")
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    KEY.public_key().verify(encode_dss_signature(r, s), jws.signing_input, ec.ECDSA(hashes.SHA256()))


def test_a_foreign_es256_token_with_high_s_verifies() -> None:
    # the same signature with s replaced by n - s is valid ECDSA; JWS does not forbid it
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    signing_input = jose.sign_jwt({}, {"a": 1}, KEY).rsplit(".", 1)[0]
    r, s = decode_dss_signature(KEY.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    high = r.to_bytes(32, "big") + (n - s).to_bytes(32, "big")
    jose.verify_jws(jose.decode_jwt(f"{signing_input}.{_b64(high)}"), KEY.public_key())


def test_sign_refuses_other_algorithms_and_crit() -> None:
    with pytest.raises(JoseError, match="ES256"):
        jose.sign_jwt({"alg": "HS256"}, {}, KEY)
    with pytest.raises(JoseError, match="crit"):
        jose.sign_jwt({"crit": ["b64"]}, {}, KEY)
    with pytest.raises(JoseError, match="P-256"):
        jose.sign_jwt({}, {}, ec.generate_private_key(ec.SECP384R1()))


def test_wrong_key_and_tampering_fail_verification() -> None:
    token = jose.sign_jwt({}, {"sub": "a"}, KEY)
    with pytest.raises(JoseError, match="Signatur ungültig"):
        jose.verify_jws(jose.decode_jwt(token), OTHER_KEY.public_key())
    header, _, signature = token.split(".")
    forged = header + "." + _b64(b'{"sub":"b"}') + "." + signature
    with pytest.raises(JoseError, match="Signatur ungültig"):
        jose.verify_jws(jose.decode_jwt(forged), KEY.public_key())


REFUSED: list[tuple[str, str, str]] = [
    ("alg none", _token({"alg": "none"}, {}, b""), "alg none"),
    ("alg None", _token({"alg": "None"}, {}), "alg none"),
    ("HS256", _token({"alg": "HS256"}, {}, b"\0" * 32), "Symmetrische"),
    ("RS256", _token({"alg": "RS256"}, {}), "nicht unterstützt"),
    ("ES384", _token({"alg": "ES384"}, {}), "nicht unterstützt"),
    ("missing alg", _token({"typ": "JWT"}, {}), "ohne alg"),
    ("alg not a string", _token({"alg": ["ES256"]}, {}), "keine Zeichenkette"),
    ("crit", _token({"alg": "ES256", "crit": ["exp"], "exp": 1}, {}), "crit"),
    ("duplicate header member", _token(b'{"alg":"ES256","alg":"none"}', {}), "Doppelter"),
    ("duplicate payload member", _token({"alg": "ES256"}, b'{"sub":"a","sub":"b"}'), "Doppelter"),
    ("payload not an object", _token({"alg": "ES256"}, [1]), "kein JSON-Objekt"),
    ("payload not JSON", _token({"alg": "ES256"}, b"sub=a"), "kein gültiges JSON"),
    ("header not an object", _token(["ES256"], {}), "kein JSON-Objekt"),
    ("truncated signature", _token({"alg": "ES256"}, {}, b"\1" * 63), "64 Bytes"),
    ("DER signature", _token({"alg": "ES256"}, {}, b"\x30" + b"\1" * 71), "64 Bytes"),
    ("two parts", "eyJhbGciOiJFUzI1NiJ9.e30", "drei"),
    ("four parts", _token({"alg": "ES256"}, {}) + ".e30", "drei"),
    ("padding", _token({"alg": "ES256"}, {}).replace(".", "=.", 1), "base64url"),
    ("standard base64", _token({"alg": "ES256"}, {}, b"\xff" * 64).replace("_", "/"), "base64url"),
    ("not a string", b"a.b.c", "keine Zeichenkette"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("case", "token", "message"), REFUSED, ids=[c for c, _, _ in REFUSED])
def test_decode_refuses(case: str, token: str, message: str) -> None:
    with pytest.raises(JoseError, match=message):
        jose.decode_jwt(token)


def test_decode_refuses_overlong_tokens() -> None:
    token = jose.sign_jwt({}, {"x": "a" * 20000}, KEY)
    with pytest.raises(JoseError, match="zu lang"):
        jose.decode_jwt(token)
    assert jose.decode_jwt(token, max_length=len(token)).payload["x"] == "a" * 20000


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53 - 1), 2**53 - 1), st.text(max_size=20)), max_size=6))
def test_round_trip_of_any_payload(payload: dict[str, Any]) -> None:
    jws = jose.decode_jwt(jose.sign_jwt({}, payload, KEY))
    jose.verify_jws(jws, KEY.public_key())
    assert jws.payload == payload


# -- times --------------------------------------------------------------------------------------

NOW = 1_800_000_000


@pytest.mark.parametrize("payload", [
    {}, {"exp": NOW + 1}, {"exp": NOW - 59}, {"nbf": NOW + 60}, {"iat": NOW + 60},
    {"iat": NOW - 10**6, "nbf": NOW - 10, "exp": NOW + 10},
])
def test_check_times_accepts(payload: dict[str, Any]) -> None:
    jose.check_times(payload, now=NOW)


@pytest.mark.parametrize(("payload", "message"), [
    ({"exp": NOW - 60}, "abgelaufen"),
    ({"exp": NOW - 1000}, "abgelaufen"),
    ({"nbf": NOW + 61}, "noch nicht gültig"),
    ({"iat": NOW + 61}, "Zukunft"),
    ({"exp": "2030-01-01"}, "ganze Zahl"),
    ({"exp": True}, "ganze Zahl"),
    ({"iat": 1.5}, "ganze Zahl"),
    ({"exp": None}, "ganze Zahl"),
])
def test_check_times_refuses(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(JoseError, match=message):
        jose.check_times(payload, now=NOW)


def test_check_times_requires_and_leeway() -> None:
    with pytest.raises(JoseError, match="ohne exp"):
        jose.check_times({"iat": NOW}, now=NOW, require=("iat", "exp"))
    with pytest.raises(JoseError, match="abgelaufen"):
        jose.check_times({"exp": NOW}, now=NOW, leeway=0)
