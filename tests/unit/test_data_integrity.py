"""Data Integrity (ecdsa-rdfc-2019, P-256), Multikey and Bitstring Status Lists, checked against the
W3C test vectors of "Data Integrity ECDSA Cryptosuites v1.0" and published did:key examples."""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from govchain.domain import data_integrity as di
from govchain.errors import InputError

# -- the W3C vectors (w3c/vc-di-ecdsa, TestVectors/: p256KeyPair.json, ecdsa-rdfc-2019-p256/) -----

EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
# The VC 2.0 examples context as published at that URL: one @vocab.
EXAMPLES_CONTEXT = {"@context": {"@vocab": "https://www.w3.org/ns/credentials/examples#"}}
LOADER = di.document_loader({EXAMPLES_V2: EXAMPLES_CONTEXT})

VECTOR_PUBLIC_KEY = "zDnaepBuvsQ8cpsWrVKw8fbpGpvPeNSjVPTWoq6cRqaYzBKVP"
VECTOR_SECRET_KEY = "z42twTcNeSYcnqg1FLuSFs2bsGH3ZqbRHFmvS9XMsYhjxvHN"
VECTOR_VM = f"did:key:{VECTOR_PUBLIC_KEY}#{VECTOR_PUBLIC_KEY}"

VECTOR_SIGNED: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2", EXAMPLES_V2],
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
    "proof": {
        "type": "DataIntegrityProof",
        "cryptosuite": "ecdsa-rdfc-2019",
        "created": "2023-02-24T23:36:38Z",
        "verificationMethod": VECTOR_VM,
        "proofPurpose": "assertionMethod",
        "proofValue": ("zaHXrr7AQdydBk3ahpCDpWbxfLokDqmCToYm2dyWvpcFVyWooC2he63w1f7UNQoAMKdhaRtcnaE2KTo5o5"
                       "vTCcfw"),
    },
}
VECTOR_PROOF_CANON = (
    '_:c14n0 <http://purl.org/dc/terms/created> "2023-02-24T23:36:38Z"'
    "^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n"
    "_:c14n0 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
    "<https://w3id.org/security#DataIntegrityProof> .\n"
    '_:c14n0 <https://w3id.org/security#cryptosuite> "ecdsa-rdfc-2019"'
    "^^<https://w3id.org/security#cryptosuiteString> .\n"
    "_:c14n0 <https://w3id.org/security#proofPurpose> <https://w3id.org/security#assertionMethod> .\n"
    f"_:c14n0 <https://w3id.org/security#verificationMethod> <{VECTOR_VM}> .\n"
)
# combinedHashECDSAP256.txt: sha256(canonical proof config) ‖ sha256(canonical document)
VECTOR_COMBINED_HASH = ("3a8a522f689025727fb9d1f0fa99a618da023e8494ac74f51015d009d35abc2e"
                        "517744132ae165a5349155bef0bb0cf2258fff99dfe1dbd914b938d775a36017")
# sigHexECDSAP256.txt: the proofValue as r ‖ s
VECTOR_SIGNATURE_HEX = ("1cb4290918ffb04a55ff7ae1e55e316a9990fda8eec67325eac7fcbf2ddf9dd2"
                        "b06716a657e72b284c9604df3a172ecbf06a1a475b49ac807b1d9162df855636")


def _vector_private_key() -> ec.EllipticCurvePrivateKey:
    raw = di.base58btc_decode(VECTOR_SECRET_KEY[1:])
    assert raw[:2] == b"\x86\x26"  # multicodec p256-priv (0x1306)
    return ec.derive_private_key(int.from_bytes(raw[2:], "big"), ec.SECP256R1())


def _unsigned(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in copy.deepcopy(document).items() if k != "proof"}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_vector_canonical_forms_and_hashes() -> None:
    proof_config = {k: v for k, v in VECTOR_SIGNED["proof"].items() if k != "proofValue"}
    proof_config["@context"] = VECTOR_SIGNED["@context"]
    proof_canon = di.canonical_nquads(proof_config, LOADER)
    assert proof_canon == VECTOR_PROOF_CANON
    document_canon = di.canonical_nquads(_unsigned(VECTOR_SIGNED), LOADER)
    assert document_canon.splitlines()[0] == ("<did:example:abcdefgh> "
                                              "<https://www.w3.org/ns/credentials/examples#alumniOf> "
                                              '"The School of Examples" .')
    assert _sha256(proof_canon) + _sha256(document_canon) == VECTOR_COMBINED_HASH


def test_vector_signed_credential_verifies() -> None:
    key = di.public_key_from_multibase(VECTOR_PUBLIC_KEY)
    assert di.base58btc_decode(VECTOR_SIGNED["proof"]["proofValue"][1:]).hex() == VECTOR_SIGNATURE_HEX
    assert di.verify_proof(VECTOR_SIGNED, VECTOR_SIGNED["proof"], key, LOADER)
    assert di.verify_proof(_unsigned(VECTOR_SIGNED), VECTOR_SIGNED["proof"], key, LOADER)


def test_vector_signed_credential_tampered_fails() -> None:
    key = di.public_key_from_multibase(VECTOR_PUBLIC_KEY)
    tampered = copy.deepcopy(VECTOR_SIGNED)
    tampered["credentialSubject"]["alumniOf"] = "The School of Forgeries"
    assert not di.verify_proof(tampered, tampered["proof"], key, LOADER)
    later = copy.deepcopy(VECTOR_SIGNED)
    later["proof"]["created"] = "2023-02-24T23:36:39Z"  # the proof options are signed too
    assert not di.verify_proof(later, later["proof"], key, LOADER)


def test_vector_key_pair_is_consistent() -> None:
    assert di.public_key_multibase(_vector_private_key().public_key()) == VECTOR_PUBLIC_KEY


def test_sign_with_vector_key_reproduces_the_vector_hash_and_verifies() -> None:
    # Signatures are randomized: the proofValue differs, the signed data must not.
    created = datetime(2023, 2, 24, 23, 36, 38, 123456, tzinfo=UTC)
    proof = di.create_proof(VECTOR_SIGNED, private_key=_vector_private_key(),
                            verification_method=VECTOR_VM, created=created, loader=LOADER)
    assert {k: v for k, v in proof.items() if k != "proofValue"} == {
        k: v for k, v in VECTOR_SIGNED["proof"].items() if k != "proofValue"}
    assert proof["proofValue"] != VECTOR_SIGNED["proof"]["proofValue"]
    assert len(di.base58btc_decode(proof["proofValue"][1:])) == 64
    signed = {**_unsigned(VECTOR_SIGNED), "proof": proof}
    assert di.verify_proof(signed, proof, di.public_key_from_multibase(VECTOR_PUBLIC_KEY), LOADER)


# -- sign and verify ----------------------------------------------------------------------------

KEY = ec.generate_private_key(ec.SECP256R1())
VM = "did:web:example.gov#key-1"
CREATED = datetime(2026, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=2)))


def _credential(**subject: Any) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", EXAMPLES_V2],
        "id": "urn:uuid:0b5c3f1e-7d0a-4a53-9d7e-1f0f3c7b2a11",
        "type": ["VerifiableCredential", "ParkingPermit"],
        "issuer": "did:web:example.gov",
        "validFrom": "2026-05-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:holder", **subject},
    }


def _sign(document: dict[str, Any], key: ec.EllipticCurvePrivateKey = KEY) -> dict[str, Any]:
    proof = di.create_proof(document, private_key=key, verification_method=VM, created=CREATED,
                            loader=LOADER)
    return {**document, "proof": proof}


def test_create_proof_shape() -> None:
    proof = _sign(_credential(name="Erika"))["proof"]
    assert list(proof) == ["type", "cryptosuite", "created", "verificationMethod", "proofPurpose",
                           "proofValue"]
    assert proof["created"] == "2026-05-01T08:30:00Z"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["proofValue"].startswith("z")


def test_round_trip_tamper_and_wrong_key() -> None:
    signed = _sign(_credential(name="Erika", plate="D-AB 123"))
    public = KEY.public_key()
    assert di.verify_proof(signed, signed["proof"], public, LOADER)
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["plate"] = "D-AB 124"
    assert not di.verify_proof(tampered, tampered["proof"], public, LOADER)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert not di.verify_proof(signed, signed["proof"], other, LOADER)


def test_signature_covers_meaning_not_json_layout() -> None:
    signed = _sign(_credential(name="Erika", count=3))
    reordered = dict(reversed(list(signed.items())))
    reordered["credentialSubject"] = {"count": 3.0, "name": "Erika", "id": "did:example:holder"}
    assert di.verify_proof(reordered, signed["proof"], KEY.public_key(), LOADER)


def test_proof_set_is_removed_whole() -> None:
    document = _credential(name="Erika")
    first = _sign(document)["proof"]
    second_key = ec.generate_private_key(ec.SECP256R1())
    # Signing a document that already has a proof signs it without: proofs of a set are independent.
    second = _sign({**document, "proof": first}, second_key)["proof"]
    with_set = {**document, "proof": [first, second]}
    assert di.verify_proof(with_set, first, KEY.public_key(), LOADER)
    assert di.verify_proof(with_set, second, second_key.public_key(), LOADER)
    assert not di.verify_proof(with_set, second, KEY.public_key(), LOADER)


def test_proof_with_context_must_begin_the_documents() -> None:
    signed = _sign(_credential(name="Erika"))
    proof = {**signed["proof"], "@context": signed["@context"]}
    assert di.verify_proof(signed, proof, KEY.public_key(), LOADER)
    proof["@context"] = ["https://www.w3.org/ns/did/v1"]
    with pytest.raises(InputError, match="@context"):
        di.verify_proof(signed, proof, KEY.public_key(), LOADER)


@pytest.mark.parametrize(("change", "message"), [
    ({"type": "Ed25519Signature2020"}, "DataIntegrityProof"),
    ({"cryptosuite": "ecdsa-jcs-2019"}, "ecdsa-rdfc-2019"),
    ({"proofValue": "uAAAA"}, "base58btc"),
    ({"proofValue": "z0OIl"}, "Ungültiges Zeichen"),
    ({"proofValue": "z" + di.base58btc_encode(b"\1" * 63)}, "64 Bytes"),
    ({"proofValue": 7}, "base58btc"),
    ({"created": "gestern"}, "created"),
    ({"previousProof": "urn:uuid:1"}, "previousProof"),
])
def test_malformed_proofs_raise(change: dict[str, Any], message: str) -> None:
    signed = _sign(_credential(name="Erika"))
    with pytest.raises(InputError, match=message):
        di.verify_proof(signed, {**signed["proof"], **change}, KEY.public_key(), LOADER)


def test_keys_of_other_curves_and_naive_times_are_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(InputError, match="P-256"):
        di.create_proof(_credential(), private_key=p384, verification_method=VM, created=CREATED,
                        loader=LOADER)
    with pytest.raises(InputError, match="P-256"):
        di.public_key_multibase(p384.public_key())
    with pytest.raises(InputError, match="Zeitzone"):
        di.create_proof(_credential(), private_key=KEY, verification_method=VM,
                        created=datetime(2026, 5, 1), loader=LOADER)


# -- JSON-LD: contexts, dropped terms, what would not be signed ----------------------------------

def test_unknown_context_raises_input_error() -> None:
    document = {**_credential(), "@context": ["https://www.w3.org/ns/credentials/v2",
                                              "https://evil.example/context"]}
    with pytest.raises(InputError, match=re.escape("Unbekannter JSON-LD-Kontext: https://evil.example/context")):
        di.canonical_nquads(document, LOADER)
    with pytest.raises(InputError, match="Unbekannter JSON-LD-Kontext"):
        _sign(document)
    with pytest.raises(InputError, match=re.escape("Unbekannter JSON-LD-Kontext: https://x.example/")):
        di.document_loader()("https://x.example/", {})


def test_loader_serves_bundled_contexts_as_fresh_copies() -> None:
    loader = di.document_loader()
    for url in (di.CREDENTIALS_V2, di.DID_V1, di.MULTIKEY_V1, di.DATA_INTEGRITY_V2):
        remote = loader(url, {})
        assert remote["documentUrl"] == url
        assert "@context" in remote["document"]
        remote["document"]["@context"] = "changed"
        assert loader(url, {})["document"]["@context"] != "changed"
    with pytest.raises(InputError, match="mitgeliefert"):
        di.document_loader({di.CREDENTIALS_V2: {"@context": {}}})


def test_a_loader_knows_only_its_own_extra_contexts() -> None:
    # pyld caches resolved contexts process-wide by URL; each loader must keep its own.
    document = _credential(name="Erika")
    di.canonical_nquads(document, LOADER)
    with pytest.raises(InputError, match=re.escape(f"Unbekannter JSON-LD-Kontext: {EXAMPLES_V2}")):
        di.canonical_nquads(document, di.document_loader())
    other = di.document_loader({EXAMPLES_V2: {"@context": {"@vocab": "https://other.example/#"}}})
    assert "https://other.example/#plate" in di.canonical_nquads(_credential(plate="D-AB 1"), other)


def test_term_in_no_context_raises() -> None:
    document = {"@context": {"known": "https://example.org/known"}, "known": "a", "unknown": "b"}
    with pytest.raises(InputError, match="'unknown'"):
        di.canonical_nquads(document, LOADER)
    # VC 2.0 maps undefined terms to issuer-dependent IRIs (@vocab); what it cannot map is dropped.
    with pytest.raises(InputError, match="in keinem JSON-LD-Kontext"):
        _sign(_credential(**{"@plate": "D-AB 123"}))
    with pytest.raises(InputError, match="in keinem JSON-LD-Kontext"):
        di.canonical_nquads({**_credential(), "@context": [
            "https://www.w3.org/ns/credentials/v2", {"plate": None}], "plate": "D-AB 123"}, LOADER)
    # pyld fails on switching VC 2.0's @vocab off (KeyError); that must still be an InputError.
    with pytest.raises(InputError, match="JSON-LD"):
        di.canonical_nquads({**_credential(plate="D-AB 123"), "@context": [
            "https://www.w3.org/ns/credentials/v2", {"@vocab": None}]}, LOADER)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("issuer", "not-a-url", "absolute IRI"),
    ("id", "relative/path", "absolute IRI"),
    ("issuer", "https://example.gov/a b", "absolute IRI"),
    ("issuer", "https://example.gov/<x>", "absolute IRI"),
    ("name", {"@value": "مرحبا", "@language": "ar", "@direction": "rtl"}, "@direction"),
    ("name", "Erika\x0bMustermann", "Steuerzeichen"),
    ("count", 2 ** 53, "zu groß"),
    ("count", 1e20, "zu groß"),
])
def test_what_would_not_be_signed_raises(field: str, value: Any, message: str) -> None:
    document = _credential()
    if field in ("name", "count"):
        document["credentialSubject"][field] = value
    else:
        document[field] = value
    with pytest.raises(InputError, match=message):
        di.canonical_nquads(document, LOADER)


def test_numbers_read_as_javascript_reads_them() -> None:
    assert (di.canonical_nquads(_credential(count=1.0), LOADER)
            == di.canonical_nquads(_credential(count=1), LOADER))
    assert '"1"^^<http://www.w3.org/2001/XMLSchema#integer>' in di.canonical_nquads(
        _credential(count=1.0), LOADER)
    assert '"1.5E0"^^<http://www.w3.org/2001/XMLSchema#double>' in di.canonical_nquads(
        _credential(count=1.5), LOADER)


def test_tab_and_newline_are_allowed_and_escaped() -> None:
    nquads = di.canonical_nquads(_credential(note='a\tb\nc "d"'), LOADER)
    assert '"a\\tb\\nc \\"d\\""' in nquads


def test_malformed_json_ld_raises_input_error() -> None:
    with pytest.raises(InputError, match="JSON-LD"):
        di.canonical_nquads({"@context": 5, "a": 1}, LOADER)
    with pytest.raises(InputError, match="kein JSON-Wert"):
        di.canonical_nquads({**_credential(), "issuer": object()}, LOADER)


# -- Multikey -----------------------------------------------------------------------------------

# did:key P-256 examples with their JWK coordinates, as published with the did:key method.
DID_KEY_EXAMPLES = [
    ("zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169",
     "fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI", "hW2ojTNfH7Jbi8--CJUo3OCbH3y5n91g-IMA9MLMbTU"),
    ("zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv",
     "igrFmi0whuihKnj9R3Om1SoMph72wUGeFaBbzG2vzns", "efsX5b10x8yjyrj4ny3pGfLcY7Xby1KzgqOdqnsrJIM"),
]


def _b64url_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


@pytest.mark.parametrize(("multibase", "x", "y"), DID_KEY_EXAMPLES)
def test_multikey_matches_published_did_key_examples(multibase: str, x: str, y: str) -> None:
    key = di.public_key_from_multibase(multibase)
    numbers = key.public_numbers()
    assert (numbers.x, numbers.y) == (_b64url_int(x), _b64url_int(y))
    assert di.public_key_multibase(key) == multibase


def test_multikey_round_trip() -> None:
    for _ in range(20):
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        text = di.public_key_multibase(key)
        assert text.startswith("zDn")
        assert di.public_key_from_multibase(text).public_numbers() == key.public_numbers()


@pytest.mark.parametrize("text", [
    "",
    "DnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169",  # no multibase prefix
    "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",  # Ed25519
    "z" + di.base58btc_encode(b"\x80\x24" + b"\x02" + b"\0" * 31),  # too short
    "z" + di.base58btc_encode(b"\x80\x24" + b"\x05" + b"\1" * 32),  # not a point encoding
    "z" + di.base58btc_encode(b"\x80\x24\x04" + b"\1" * 64),  # uncompressed: not Multikey's form
    "z" + "2" * 200,
])
def test_multikey_rejects_anything_else(text: str) -> None:
    with pytest.raises(InputError):
        di.public_key_from_multibase(text)


def test_base58btc() -> None:
    # Examples from the base58 draft (draft-msporny-base58).
    assert di.base58btc_encode(b"Hello World!") == "2NEpo7TZRRrLZSi2U"
    assert di.base58btc_encode(b"\0\0(\x7f\xb4\xcd") == "11233QC4"
    assert di.base58btc_decode("11233QC4") == b"\0\0(\x7f\xb4\xcd"
    assert di.base58btc_encode(b"") == "" and di.base58btc_decode("") == b""
    with pytest.raises(InputError):
        di.base58btc_decode("0")


# -- Bitstring Status List ----------------------------------------------------------------------

def test_bit_order_is_most_significant_first() -> None:
    buf = bytearray(2)
    di.set_bit(buf, 0)
    assert buf == bytearray(b"\x80\x00")
    di.set_bit(buf, 9)
    di.set_bit(buf, 15)
    assert buf == bytearray(b"\x80\x41")
    assert di.get_bit(buf, 0) and di.get_bit(buf, 9) and not di.get_bit(buf, 1)
    di.set_bit(buf, 0, False)
    assert buf == bytearray(b"\x00\x41")
    for index in (-1, 16):
        with pytest.raises(IndexError):
            di.set_bit(buf, index)
        with pytest.raises(IndexError):
            di.get_bit(buf, index)


def test_status_list_round_trip_and_determinism() -> None:
    buf = bytearray(di.MIN_STATUS_LIST_BITS // 8)
    for index in (0, 7, 94567, di.MIN_STATUS_LIST_BITS - 1):
        di.set_bit(buf, index)
    encoded = di.encode_status_list(bytes(buf))
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded
    assert encoded == di.encode_status_list(bytes(buf))
    compressed = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    assert compressed[:2] == b"\x1f\x8b" and compressed[4:8] == b"\0\0\0\0"  # GZIP, mtime 0
    decoded = di.decode_status_list(encoded)
    assert decoded == bytes(buf)
    assert di.get_bit(decoded, 94567) and not di.get_bit(decoded, 94568)


def test_status_list_decodes_other_gzip_writers() -> None:
    bits = bytes(di.MIN_STATUS_LIST_BITS // 8)
    foreign = gzip.compress(bits, compresslevel=1, mtime=1_700_000_000)
    text = "u" + base64.urlsafe_b64encode(foreign).decode().rstrip("=")
    assert di.decode_status_list(text) == bits


@pytest.mark.parametrize("text", [
    "zabc",  # not base64url multibase
    "u!!!!",
    "u" + base64.urlsafe_b64encode(b"not gzip").decode().rstrip("="),
    "u" + base64.urlsafe_b64encode(gzip.compress(b"\0" * 100, mtime=0)).decode().rstrip("="),  # too short
    "u" + base64.urlsafe_b64encode(gzip.compress(b"\0" * 20000, mtime=0)[:-4]).decode().rstrip("="),  # cut
])
def test_status_list_rejects_malformed(text: str) -> None:
    with pytest.raises(InputError):
        di.decode_status_list(text)


def test_status_list_limits() -> None:
    with pytest.raises(InputError, match="mindestens"):
        di.encode_status_list(bytes(100))
    bomb = di.encode_status_list(bytes(4 * 1024 * 1024))
    with pytest.raises(InputError, match="größer"):
        di.decode_status_list(bomb, max_bytes=1024 * 1024)


# -- time ---------------------------------------------------------------------------------------

def test_time_per_proof_on_a_40_field_credential() -> None:
    subject: dict[str, Any] = {f"feld{i:02d}": f"Wert {i}" for i in range(30)}
    subject["adresse"] = {"strasse": "Rathausplatz 1", "plz": "44135", "ort": "Dortmund"}
    subject["fahrzeuge"] = [{"kennzeichen": "DO-AB 12", "art": "PKW"}, {"kennzeichen": "DO-CD 34"}]
    subject["gebuehr"] = 30
    document = _credential(**subject)
    loader = di.document_loader({EXAMPLES_V2: EXAMPLES_CONTEXT})
    start = time.perf_counter()
    di.create_proof(document, private_key=KEY, verification_method=VM, created=CREATED, loader=loader)
    first_ms = (time.perf_counter() - start) * 1000  # a new loader processes its contexts once
    rounds = 5
    start = time.perf_counter()
    for _ in range(rounds):
        proof = di.create_proof(document, private_key=KEY, verification_method=VM, created=CREATED,
                                loader=loader)
    create_ms = (time.perf_counter() - start) / rounds * 1000
    start = time.perf_counter()
    for _ in range(rounds):
        assert di.verify_proof(document, proof, KEY.public_key(), loader)
    verify_ms = (time.perf_counter() - start) / rounds * 1000
    print(f"\n40-field credential: create_proof {create_ms:.1f} ms (first with a new loader "
          f"{first_ms:.1f} ms), verify_proof {verify_ms:.1f} ms")
