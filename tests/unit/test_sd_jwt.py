"""SD-JWT (RFC 9901): issue → present → verify with real keys; that a presentation shows exactly
what the issuer signed, restricted to what the holder chose, and nothing of the rest; and that
every Disclosure or Key Binding JWT that RFC 9901 says to reject is rejected."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from govchain.domain import jose, sd_jwt
from govchain.domain.sd_jwt import ClaimPath, SdJwtError
from govchain.errors import InputError

ISSUER = ec.generate_private_key(ec.SECP256R1())
HOLDER = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())
NOW = 1_800_000_000
AUD = "https://verifier.example"
NONCE = "n-0S6_WzA2Mj"

VISIBLE = ("iss", "vct", "cnf", "iat", "exp")
ENVELOPE: dict[str, Any] = {
    "iss": "https://kreis.example",
    "vct": "https://kreis.example/vct/halterauskunft",
    "cnf": {"jwk": jose.public_jwk(HOLDER.public_key())},
    "iat": NOW - 100,
    "exp": NOW + 3600,
}
SUBJECT: dict[str, Any] = {
    "halter": {"name": "K", "vorname": "S", "anschrift": {"ort": "X"}},
    "auflagen": {"weitere": ["a", "b"]},
    "kategorie": "x",
}


def _issuer_key(header: dict[str, Any], payload: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    if header.get("kid") not in (None, "k1"):
        raise InputError("unbekannter Schlüssel")
    return ISSUER.public_key()


def _issue(subject: dict[str, Any] = SUBJECT, **kwargs: Any) -> str:
    return sd_jwt.issue({**ENVELOPE, **subject}, header_extra={"kid": "k1"}, private_key=ISSUER,
                        always_visible=VISIBLE, **kwargs)


def _verify(text: str, **kwargs: Any) -> sd_jwt.Verified:
    options: dict[str, Any] = {"issuer_key": _issuer_key, "require_key_binding": False, "now": NOW}
    return sd_jwt.verify(text, **{**options, **kwargs})


def _verify_kb(text: str, **kwargs: Any) -> sd_jwt.Verified:
    return _verify(text, **{"require_key_binding": True, "audience": AUD, "nonce": NONCE, **kwargs})


def _keep(*paths: ClaimPath) -> Callable[[ClaimPath], bool]:
    return lambda path: path in paths


def _present_kb(text: str, keep: Callable[[ClaimPath], bool] = lambda _: True, **kwargs: Any) -> str:
    return sd_jwt.present(text, keep, **{"holder_key": HOLDER, "aud": AUD, "nonce": NONCE,
                                         "iat": NOW - 5, **kwargs})


def _parts(text: str) -> list[str]:
    return text.split("~")


def _decoded(disclosure: str) -> list[Any]:
    value: list[Any] = json.loads(jose.b64url_decode(disclosure, "d"))
    return value


def _encoded(content: list[Any]) -> str:
    return jose.b64url_encode(json.dumps(content, ensure_ascii=False).encode())


def _digest(disclosure: str) -> str:
    return sd_jwt._digest(disclosure)


def _signed(payload: dict[str, Any], *disclosures: str, typ: str = "dc+sd-jwt") -> str:
    """An SD-JWT with a hand-made payload, signed by the issuer (for malformed cases)."""
    token = jose.sign_jwt({"typ": typ}, payload, ISSUER)
    return token + "~" + "".join(d + "~" for d in disclosures)


# -- round trip ---------------------------------------------------------------------------------


def test_issue_present_verify_the_nested_example() -> None:
    issued = _issue()
    header = jose.decode_jwt(_parts(issued)[0]).header
    assert header == {"alg": "ES256", "typ": "dc+sd-jwt", "kid": "k1"}
    full = _verify(issued)
    assert full.claims == {**ENVELOPE, **SUBJECT}
    assert full.key_binding is None
    assert ("halter", "anschrift", "ort") in full.disclosed
    assert ("auflagen", "weitere", 1) in full.disclosed
    assert not any(path[0] in VISIBLE for path in full.disclosed)
    # the signed payload holds only digests of the subject
    payload = full.payload
    assert set(payload) == {*VISIBLE, "_sd", "_sd_alg"} and payload["_sd_alg"] == "sha-256"
    assert payload["_sd"] == sorted(payload["_sd"]) and len(payload["_sd"]) == 3

    presented = _present_kb(issued, _keep(("halter", "anschrift", "ort"), ("auflagen", "weitere", 1)))
    verified = _verify_kb(presented)
    assert verified.claims == {**ENVELOPE, "halter": {"anschrift": {"ort": "X"}},
                               "auflagen": {"weitere": ["b"]}}
    assert verified.disclosed == {("halter",), ("halter", "anschrift"), ("halter", "anschrift", "ort"),
                                  ("auflagen",), ("auflagen", "weitere"), ("auflagen", "weitere", 0)}
    assert verified.key_binding is not None
    assert verified.key_binding["aud"] == AUD and verified.key_binding["nonce"] == NONCE
    assert verified.payload == payload


def test_present_with_nothing_kept_shows_only_the_visible_claims() -> None:
    presented = sd_jwt.present(_issue(), lambda _: False)
    assert presented.count("~") == 1 and presented.endswith("~")
    verified = _verify(presented)
    assert verified.claims == ENVELOPE and verified.disclosed == frozenset()


def test_a_kept_object_without_its_members_is_empty() -> None:
    verified = _verify(sd_jwt.present(_issue(), _keep(("halter",))))
    assert verified.claims["halter"] == {}


def test_rfc_9901_digest_and_a_foreign_json_spelling() -> None:
    # RFC 9901, section 4.2.3: the digest is over the base64url text as sent (here with spaces)
    family_name = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
    assert _digest(family_name) == "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"
    fr = "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0"  # ["lklxF5jMYlGTPUovMNIvCA", "FR"]
    text = _signed({"_sd": [_digest(family_name)], "nationalities": [{"...": _digest(fr)}, "DE"]},
                   family_name, fr)
    verified = _verify(text)
    assert verified.claims == {"family_name": "Möbius", "nationalities": ["FR", "DE"]}
    assert verified.disclosed == {("family_name",), ("nationalities", 0)}


def test_deterministic_salts_and_decoys() -> None:
    payload, disclosures = sd_jwt.make_disclosures({"a": {"b": 1}}, salt=lambda: "s", decoys=2)
    assert disclosures[0] == jose.b64url_encode(b'["s","b",1]')
    inner, outer = (_decoded(d) for d in disclosures)
    assert inner == ["s", "b", 1]
    assert outer[:2] == ["s", "a"] and set(outer[2]) == {"_sd"}
    nested = outer[2]["_sd"]
    assert _digest(disclosures[0]) in nested and len(nested) == 3 and nested == sorted(nested)
    assert _digest(disclosures[1]) in payload["_sd"] and len(payload["_sd"]) == 3
    issued = _issue(decoys=4)
    assert _verify(issued).claims == {**ENVELOPE, **SUBJECT}
    assert len(jose.decode_jwt(_parts(issued)[0]).payload["_sd"]) == 3 + 4


@pytest.mark.parametrize(("claims", "message"), [
    ({"_sd": []}, "reserviert"),
    ({"a": {"...": 1}}, "reserviert"),
    ({"_sd_alg": "sha-256"}, "reserviert"),
    ({"a": [{"_sd": 1}]}, "reserviert"),
    ({"a": 2**53}, "außerhalb"),
    ({"a": float("nan")}, "außerhalb"),
    ({"a": {1: "x"}}, "Zeichenketten"),
    ({"a": {"x"}}, "kein JSON-Wert"),
])
def test_make_disclosures_refuses(claims: dict[str, Any], message: str) -> None:
    with pytest.raises(SdJwtError, match=message):
        sd_jwt.make_disclosures(claims)


def test_make_disclosures_refuses_reserved_names_in_visible_claims_too() -> None:
    with pytest.raises(SdJwtError, match="reserviert"):
        sd_jwt.make_disclosures({"cnf": {"...": "x"}}, always_visible=("cnf",))


def test_make_disclosures_refuses_overdeep_claims() -> None:
    deep: dict[str, Any] = {}
    for _ in range(sd_jwt.MAX_DEPTH + 1):
        deep = {"a": deep}
    with pytest.raises(SdJwtError, match="tief"):
        sd_jwt.make_disclosures(deep)


# -- tampering with Disclosures ------------------------------------------------------------------


def _ort_disclosure(text: str) -> int:
    """Index (in the ~ parts) of the Disclosure of halter/anschrift/ort."""
    return next(i for i, part in enumerate(_parts(text)[1:-1], 1) if _decoded(part)[1:] == ["ort", "X"])


def test_a_disclosure_with_a_changed_value_is_refused() -> None:
    parts = _parts(_issue())
    i = _ort_disclosure("~".join(parts))
    salt, name, _ = _decoded(parts[i])
    parts[i] = _encoded([salt, name, "Y"])
    with pytest.raises(SdJwtError, match="gehören nicht zu diesem SD-JWT"):
        _verify("~".join(parts))


def test_a_disclosure_with_a_swapped_name_is_refused() -> None:
    parts = _parts(_issue())
    i = _ort_disclosure("~".join(parts))
    salt, _, value = _decoded(parts[i])
    parts[i] = _encoded([salt, "name", value])
    with pytest.raises(SdJwtError, match="gehören nicht zu diesem SD-JWT"):
        _verify("~".join(parts))


def test_a_disclosure_re_encoded_with_the_same_content_is_refused() -> None:
    parts = _parts(_issue())
    i = _ort_disclosure("~".join(parts))
    parts[i] = _encoded(_decoded(parts[i]))  # other spelling (spaces), same JSON value
    with pytest.raises(SdJwtError, match="gehören nicht zu diesem SD-JWT"):
        _verify("~".join(parts))


def test_a_disclosure_from_another_credential_is_refused() -> None:
    mine, theirs = _issue(), _issue({**SUBJECT, "kategorie": "y"})
    foreign = next(p for p in _parts(theirs)[1:-1] if _decoded(p)[1:] == ["kategorie", "y"])
    with pytest.raises(SdJwtError, match="gehören nicht zu diesem SD-JWT"):
        _verify(sd_jwt.present(mine, lambda _: False) + foreign + "~")


def test_a_duplicated_disclosure_is_refused() -> None:
    issued = _issue()
    first = _parts(issued)[1]
    with pytest.raises(SdJwtError, match="mehrfach"):
        _verify(issued + first + "~")


def test_an_empty_disclosure_is_refused() -> None:
    with pytest.raises(SdJwtError, match="Leere Offenlegung"):
        _verify(_issue() + "~")


def _disclosure(*content: Any) -> tuple[str, str]:
    encoded = jose.b64url_encode(jose.json_bytes(["salt-" + str(len(content)), *content]))
    return encoded, _digest(encoded)


def _malformed_cases() -> Iterator[tuple[str, str, str]]:
    name, name_digest = _disclosure("name", "K")
    element, element_digest = _disclosure("K")
    yield ("element disclosure in _sd", _signed({"_sd": [element_digest]}, element), "Array-Element")
    yield ("object disclosure in array", _signed({"a": [{"...": name_digest}]}, name), "mit Namen")
    yield ("digest twice in _sd", _signed({"_sd": [name_digest, name_digest]}, name), "mehrfach")
    undisclosed = _digest("nothing")
    yield ("digest in _sd and array", _signed({"_sd": [undisclosed], "a": [{"...": undisclosed}]}),
           "mehrfach")
    yield ("undisclosed digest twice", _signed({"_sd": [undisclosed], "b": {"_sd": [undisclosed]}}),
           "mehrfach")
    yield ("name collides with a plain claim", _signed({"name": "L", "_sd": [name_digest]}, name),
           "mehrfach")
    other_name, other_digest = _disclosure("name", "M")
    yield ("two disclosures of one name", _signed({"_sd": [name_digest, other_digest]}, name,
                                                  other_name), "mehrfach")
    nested, nested_digest = _disclosure("inner", {"_sd": [name_digest, name_digest]})
    yield ("digest twice inside a disclosure", _signed({"_sd": [nested_digest]}, nested, name),
           "mehrfach")
    sd, sd_digest = _disclosure("_sd", ["x"])
    yield ("disclosure named _sd", _signed({"_sd": [sd_digest]}, sd), "nicht erlaubt")
    dots, dots_digest = _disclosure("...", "x")
    yield ("disclosure named ...", _signed({"_sd": [dots_digest]}, dots), "nicht erlaubt")
    yield ("_sd_alg sha-512", _signed({"_sd_alg": "sha-512", "_sd": [name_digest]}, name),
           "_sd_alg")
    yield ("_sd not an array", _signed({"_sd": name_digest}, name), "kein Array")
    yield ("digest not a string", _signed({"_sd": [1]}), "keine Zeichenkette")
    yield ("... with other members", _signed({"a": [{"...": element_digest, "b": 1}]}, element),
           "weitere Namen")
    four, _ = _disclosure("a", "b", "c")
    yield ("four elements", _signed({}, four), "2 oder 3")
    not_array = jose.b64url_encode(b'{"salt":"s"}')
    yield ("not an array", _signed({}, not_array), "2 oder 3")
    salt_number = _encoded([1, "a", "b"])
    yield ("salt not a string", _signed({"_sd": [_digest(salt_number)]}, salt_number), "Salz")
    name_number = _encoded(["s", 1, "b"])
    yield ("name not a string", _signed({"_sd": [_digest(name_number)]}, name_number), "Name")
    padded = name + "=" * (-len(name) % 4 or 4)
    yield ("padded disclosure", _signed({"_sd": [_digest(padded)]}, padded), "base64url")
    duplicate_member = jose.b64url_encode(b'["s","a",{"x":1,"x":2}]')
    yield ("duplicate member in disclosure", _signed({"_sd": [_digest(duplicate_member)]},
                                                      duplicate_member), "Doppelter")
    yield ("wrong typ", _signed({}, typ="vc+sd-jwt"), "typ")
    expired = _signed({"exp": NOW - 3600})
    yield ("expired", expired, "abgelaufen")
    exp, exp_digest = _disclosure("exp", NOW - 3600)
    yield ("expired in a disclosure", _signed({"_sd": [exp_digest]}, exp), "abgelaufen")
    yield ("not yet valid", _signed({"nbf": NOW + 3600}), "noch nicht gültig")
    yield ("no ~ at all", _signed({}).rstrip("~"), "getrennte Teile")
    none = jose.b64url_encode(b'{"alg":"none","typ":"dc+sd-jwt"}') + "." + jose.b64url_encode(b"{}") + "."
    yield ("alg none", none + "~", "alg none")


MALFORMED = list(_malformed_cases())


@pytest.mark.parametrize(("case", "text", "message"), MALFORMED, ids=[c for c, _, _ in MALFORMED])
def test_verify_refuses(case: str, text: str, message: str) -> None:
    with pytest.raises(SdJwtError, match=message):
        _verify(text)


def test_the_reconstruction_depth_is_limited() -> None:
    disclosures: list[str] = []
    value: Any = "tief"
    for _ in range(sd_jwt.MAX_DEPTH + 1):
        encoded, digest = _disclosure("a", value)
        disclosures.append(encoded)
        value = {"_sd": [digest]}
    with pytest.raises(SdJwtError, match="tief"):
        _verify(_signed(value, *disclosures))
    # one level less is fine
    assert _verify(_signed({"_sd": [_digest(disclosures[-2])]}, *disclosures[:-1])).claims


def test_limits_on_length_and_number_of_disclosures() -> None:
    issued = _issue()
    with pytest.raises(SdJwtError, match="zu lang"):
        _verify(issued, max_length=len(issued) - 1)
    with pytest.raises(SdJwtError, match="Zu viele"):
        _verify(issued, max_disclosures=2)


def test_wrong_issuer_key_and_unknown_issuer() -> None:
    issued = _issue()
    with pytest.raises(SdJwtError, match="Signatur ungültig"):
        _verify(issued, issuer_key=lambda h, p: OTHER.public_key())
    other = sd_jwt.issue(SUBJECT, header_extra={"kid": "k1"}, private_key=OTHER, always_visible=())
    with pytest.raises(SdJwtError, match="Signatur ungültig"):
        _verify(other)
    with pytest.raises(InputError, match="unbekannter Schlüssel"):
        _verify(sd_jwt.issue(SUBJECT, header_extra={"kid": "k9"}, private_key=ISSUER, always_visible=()))


def test_a_changed_payload_breaks_the_issuer_signature() -> None:
    parts = _parts(_issue())
    header, _, signature = parts[0].split(".")
    claims = jose.decode_jwt(parts[0]).payload
    claims["_sd"] = claims["_sd"][:-1]
    parts[0] = ".".join([header, jose.b64url_encode(jose.json_bytes(claims)), signature])
    with pytest.raises(SdJwtError):
        _verify("~".join(parts))


# -- Key Binding ----------------------------------------------------------------------------------


def test_key_binding_round_trip_and_optional_verification() -> None:
    presented = _present_kb(_issue(), _keep(("kategorie",)))
    verified = _verify_kb(presented)
    assert verified.claims == {**ENVELOPE, "kategorie": "x"}
    assert verified.key_binding is not None and set(verified.key_binding) == {"iat", "aud", "nonce",
                                                                              "sd_hash"}
    kb_header = jose.decode_jwt(_parts(presented)[-1]).header
    assert kb_header == {"alg": "ES256", "typ": "kb+jwt"}
    # not required, still checked
    assert _verify(presented).key_binding == verified.key_binding
    with pytest.raises(SdJwtError, match="aud"):
        _verify(presented, audience="https://evil.example")


def _kb_case(**changes: Any) -> str:
    return _present_kb(_issue(), **changes)


def _manual_kb(payload_changes: dict[str, Any], *, key: ec.EllipticCurvePrivateKey = HOLDER,
               header: dict[str, Any] | None = None) -> str:
    presented = sd_jwt.present(_issue(), lambda _: True)
    payload = {"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": sd_jwt._sd_hash(presented),
               **payload_changes}
    payload = {k: v for k, v in payload.items() if v is not None}
    return presented + jose.sign_jwt(header or {"typ": "kb+jwt"}, payload, key)


def _kb_failures() -> Iterator[tuple[str, Callable[[], sd_jwt.Verified], str]]:
    yield ("wrong aud", lambda: _verify_kb(_kb_case(aud="https://evil.example")), "aud")
    yield ("wrong nonce", lambda: _verify_kb(_kb_case(nonce="other")), "nonce")
    yield ("old iat", lambda: _verify_kb(_kb_case(iat=NOW - 301)), "älter als 300")
    yield ("future iat", lambda: _verify_kb(_kb_case(iat=NOW + 61)), "Zukunft")
    yield ("missing when required", lambda: _verify_kb(sd_jwt.present(_issue(), lambda _: True)),
           "fehlt")
    yield ("wrong sd_hash", lambda: _verify_kb(_manual_kb({"sd_hash": sd_jwt._sd_hash("x~")})),
           "sd_hash")
    yield ("signed by another key", lambda: _verify_kb(_manual_kb({}, key=OTHER)), "Signatur")
    yield ("wrong typ", lambda: _verify_kb(_manual_kb({}, header={"typ": "JWT"})), "typ")
    yield ("no sd_hash", lambda: _verify_kb(_manual_kb({"sd_hash": None})), "ohne sd_hash")
    yield ("no iat", lambda: _verify_kb(_manual_kb({"iat": None})), "ohne iat")
    yield ("iat a string", lambda: _verify_kb(_manual_kb({"iat": str(NOW)})), "ganze Zahl")
    yield ("aud an array", lambda: _verify_kb(_manual_kb({"aud": [AUD]})), "aud")
    yield ("disclosure removed after binding", lambda: _verify_kb(_without_second_disclosure()),
           "sd_hash")
    yield ("disclosure added after binding", lambda: _verify_kb(_with_added_disclosure()), "sd_hash")
    yield ("no cnf in the credential", lambda: _verify(_without_cnf()), "cnf")


def _without_second_disclosure() -> str:
    parts = _parts(_present_kb(_issue(), _keep(("kategorie",), ("auflagen",))))
    kept = [p for p in parts[1:-1] if _decoded(p)[1] != "kategorie"]
    return "~".join([parts[0], *kept, parts[-1]])


def _with_added_disclosure() -> str:
    issued = _issue()
    parts = _parts(_present_kb(issued, _keep(("auflagen",))))
    kategorie = next(p for p in _parts(issued)[1:-1] if _decoded(p)[1] == "kategorie")
    return "~".join([parts[0], *parts[1:-1], kategorie, parts[-1]])


def _without_cnf() -> str:
    issued = sd_jwt.issue({"kategorie": "x"}, header_extra={}, private_key=ISSUER, always_visible=())
    presented = sd_jwt.present(issued, lambda _: True)
    payload = {"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": sd_jwt._sd_hash(presented)}
    return presented + jose.sign_jwt({"typ": "kb+jwt"}, payload, HOLDER)


KB_FAILURES = list(_kb_failures())


@pytest.mark.parametrize(("case", "attempt", "message"), KB_FAILURES, ids=[c for c, _, _ in KB_FAILURES])
def test_key_binding_refuses(case: str, attempt: Callable[[], sd_jwt.Verified], message: str) -> None:
    with pytest.raises(SdJwtError, match=message):
        attempt()


def test_key_binding_age_limit_is_inclusive() -> None:
    assert _verify_kb(_kb_case(iat=NOW - 300)).key_binding is not None
    assert _verify_kb(_kb_case(iat=NOW + 60)).key_binding is not None


def test_present_refuses_a_holder_key_other_than_cnf_and_missing_kb_parameters() -> None:
    with pytest.raises(SdJwtError, match="cnf"):
        _present_kb(_issue(), holder_key=OTHER)
    with pytest.raises(ValueError, match="nonce"):
        sd_jwt.present(_issue(), lambda _: True, holder_key=HOLDER, aud=AUD)
    with pytest.raises(SdJwtError, match="schon"):
        sd_jwt.present(_present_kb(_issue()), lambda _: True)


def test_verify_needs_audience_and_nonce_to_require_key_binding() -> None:
    with pytest.raises(ValueError, match="audience"):
        _verify(_issue(), require_key_binding=True)


def test_errors_are_input_errors() -> None:
    assert issubclass(SdJwtError, InputError)


# -- properties ----------------------------------------------------------------------------------

NAMES = st.text(alphabet="abcxyzäß", min_size=1, max_size=3)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**53 - 1), 2**53 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(NAMES, inner, max_size=3), max_leaves=12)
SUBJECTS = st.dictionaries(NAMES, VALUES, max_size=4)


def _paths(value: Any, path: ClaimPath = ()) -> Iterator[ClaimPath]:
    """The disclosable paths of a subject as issued (all of them)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for step, item in items:
        yield (*path, step)
        yield from _paths(item, (*path, step))


def _restrict(value: Any, closure: set[ClaimPath], path: ClaimPath, shown: ClaimPath,
              disclosed: set[ClaimPath]) -> Any:
    """What a verifier should see of ``value``: members and elements whose path is in
    ``closure``; array indexes renumbered."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, item in value.items():
            if (*path, name) in closure:
                disclosed.add((*shown, name))
                out[name] = _restrict(item, closure, (*path, name), (*shown, name), disclosed)
        return out
    if isinstance(value, list):
        elements: list[Any] = []
        for index, item in enumerate(value):
            if (*path, index) in closure:
                disclosed.add((*shown, len(elements)))
                elements.append(_restrict(item, closure, (*path, index), (*shown, len(elements)),
                                          disclosed))
        return elements
    return value


def _closure(kept: set[ClaimPath]) -> set[ClaimPath]:
    return {path[:n] for path in kept for n in range(1, len(path) + 1)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SUBJECTS, st.data())
def test_a_presentation_shows_exactly_the_kept_issued_claims(subject: dict[str, Any],
                                                             data: st.DataObject) -> None:
    paths = sorted(set(_paths(subject)), key=repr)
    kept = data.draw(st.sets(st.sampled_from(paths)) if paths else st.just(set[ClaimPath]()))
    issued = _issue(subject, decoys=data.draw(st.integers(0, 2)))
    seen: list[ClaimPath] = []

    def keep(path: ClaimPath) -> bool:
        seen.append(path)
        return path in kept

    verified = _verify_kb(_present_kb(issued, keep))
    assert sorted(seen, key=repr) == paths  # keep is asked about every disclosable claim
    disclosed: set[ClaimPath] = set()
    assert verified.claims == {**ENVELOPE, **_restrict(subject, _closure(kept), (), (), disclosed)}
    assert verified.disclosed == disclosed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SUBJECTS.filter(bool), st.data())
def test_no_changed_disclosure_passes(subject: dict[str, Any], data: st.DataObject) -> None:
    parts = _parts(_issue(subject))
    i = data.draw(st.integers(1, len(parts) - 2))
    original = parts[i]
    content = _decoded(original)
    changed: Any = data.draw(SCALARS | st.just({"_sd": []}) | st.just([]))
    tampered = [*content[:-1], changed]
    if len(content) == 3 and data.draw(st.booleans()):
        tampered = [content[0], content[1] + "x", content[2]]
    parts[i] = jose.b64url_encode(jose.json_bytes(tampered))
    assume(parts[i] != original)  # the same value drawn again
    with pytest.raises(SdJwtError):
        _verify("~".join(parts))


# Claim trees whose names and leaves are unique tokens, to look for in what a verifier receives.
SHAPES = st.recursive(st.just("leaf"), lambda inner: st.tuples(st.sampled_from(["list", "dict"]),
                                                               st.lists(inner, max_size=3)),
                      max_leaves=12)


def _materialize(shape: Any, tokens: Iterator[str]) -> Any:
    if shape == "leaf":
        return next(tokens)
    kind, children = shape
    if kind == "list":
        return [_materialize(child, tokens) for child in children]
    return {next(tokens): _materialize(child, tokens) for child in children}


def _tokens(value: Any, path: ClaimPath = ()) -> Iterator[tuple[ClaimPath, str]]:
    """Each name and leaf token with the path of the claim it belongs to."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for step, item in items:
        if isinstance(step, str):
            yield (*path, step), step
        if isinstance(item, str):
            yield (*path, step), item
        yield from _tokens(item, (*path, step))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SHAPES, max_size=4), st.data())
def test_hidden_claims_cannot_be_recovered(shapes: list[Any], data: st.DataObject) -> None:
    tokens = (f"Geheim{n:04d}Q" for n in range(10_000))
    subject = {next(tokens): _materialize(shape, tokens) for shape in shapes}
    paths = sorted(set(_paths(subject)), key=repr)
    kept = data.draw(st.sets(st.sampled_from(paths)) if paths else st.just(set[ClaimPath]()))
    closure = _closure(kept)
    presented = _present_kb(_issue(subject), lambda path: path in kept)
    parts = _parts(presented)
    issuer_jwt = jose.decode_jwt(parts[0])
    texts = [json.dumps(issuer_jwt.header), json.dumps(issuer_jwt.payload, ensure_ascii=False),
             presented, *(json.dumps(_decoded(p), ensure_ascii=False) for p in parts[1:-1])]
    seen = "\n".join(texts)
    for path, token in _tokens(subject):
        assert (token in seen) == (path in closure), (path, token)
    shown = json.dumps(_verify_kb(presented).claims)
    assert not any(token in shown for path, token in _tokens(subject) if path not in closure)
