"""The pure parts of the open-standards view: did:web names, status list positions and entries,
and govchain's generated JSON-LD context (every field of every use case expands to a term of
its own, checked with pyld)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from govchain.domain import data_integrity, did, status_lists
from govchain.domain.documents import GOVCHAIN_CONTEXT, IssuerRef, new_document, salt_document
from govchain.domain.jsonld_context import VOCAB, build_context, usecase_terms
from govchain.domain.usecases import UseCase, UseCaseRegistry, default_usecases_dir
from govchain.errors import ConfigurationError, InputError

USECASES = UseCaseRegistry.load(default_usecases_dir())
RESERVED = {k for k in data_integrity.bundled_context(data_integrity.CREDENTIALS_V2)["@context"]
            if not k.startswith("@")}
CONTEXT_URL = "https://govchain.example.nrw/credentials/v1"


# -- did:web ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("base", "expected"), [
    ("https://govchain.example.nrw", "did:web:govchain.example.nrw:municipalities:05315000"),
    ("http://127.0.0.1:8000/", "did:web:127.0.0.1%3A8000:municipalities:05315000"),
    ("https://land.nrw/govchain", "did:web:land.nrw:govchain:municipalities:05315000"),
])
def test_municipality_did(base: str, expected: str) -> None:
    name = did.municipality_did(base, "05315000")
    assert name == expected
    assert did.ags_of_did(name) == "05315000"
    assert did.ags_of_did(name + "#key-" + "ab" * 32) == "05315000"


def test_did_document_url_follows_did_web() -> None:
    assert did.did_document_url("did:web:127.0.0.1%3A8000:municipalities:05315000") == \
        "https://127.0.0.1:8000/municipalities/05315000/did.json"


@pytest.mark.parametrize("name", ["did:key:z6Mk", "did:web:x:municipalities:0531500",
                                  "did:web:x:communes:05315000", "urn:govchain:municipality:1",
                                  ""])
def test_not_a_municipality_did(name: str) -> None:
    assert did.ags_of_did(name) is None


def test_key_ids_in_method_urls() -> None:
    key_id = bytes(range(32))
    method = did.method_id("did:web:h:municipalities:05315000", key_id)
    assert did.key_id_of_method(method) == ("did:web:h:municipalities:05315000", key_id)
    for bad in ("did:web:h#key-12", "did:web:h#" + key_id.hex(), "https://h#key-" + key_id.hex()):
        with pytest.raises(InputError):
            did.key_id_of_method(bad)


# -- status list positions --------------------------------------------------------------------

def test_positions_are_a_permutation_of_one_list() -> None:
    key = bytes(32)
    seen = {status_lists.position(key, "05315000", n) for n in range(status_lists.LIST_SIZE)}
    assert len(seen) == status_lists.LIST_SIZE
    assert {list_no for list_no, _ in seen} == {0}
    assert all(0 <= index < status_lists.LIST_SIZE for _, index in seen)
    assert status_lists.position(key, "05315000", status_lists.LIST_SIZE)[0] == 1


def test_positions_do_not_follow_the_order_of_issuance() -> None:
    first = [status_lists.position(b"k" * 32, "05315000", n)[1] for n in range(1000)]
    other_key = [status_lists.position(b"K" * 32, "05315000", n)[1] for n in range(1000)]
    other_town = [status_lists.position(b"k" * 32, "05334002", n)[1] for n in range(1000)]
    assert first != sorted(first) and first != other_key and first != other_town
    # spread over the whole list, not packed at its start
    assert max(first) > status_lists.LIST_SIZE * 0.9 and min(first) < status_lists.LIST_SIZE * 0.1


def test_entries_and_positions_of_a_document() -> None:
    entries = status_lists.entries("https://h", "05315000", 2, 4711)
    assert [e["statusPurpose"] for e in entries] == ["revocation", "suspension"]
    assert entries[0] == {
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation", "statusListIndex": "4711",
        "statusListCredential": "https://h/status/05315000/revocation-2"}
    doc = {"credentialStatus": [{"type": "GovchainLedgerStatus2026"}, *entries]}
    assert status_lists.position_of(doc) == (2, 4711)
    assert status_lists.position_of({"credentialStatus": {"type": "x"}}) is None
    for bad in ("revocation", "revocation-x", "other-1", "revocation-1/x"):
        with pytest.raises(InputError):
            status_lists.parse_list_id(bad)


def test_bitstring_order_and_encoding() -> None:
    bits = bytearray(status_lists.LIST_SIZE // 8)
    for index in (0, 9, status_lists.LIST_SIZE - 1):
        data_integrity.set_bit(bits, index)
    assert bits[0] == 0x80 and bits[1] == 0x40 and bits[-1] == 0x01
    assert data_integrity.decode_status_list(data_integrity.encode_status_list(bytes(bits))) == bits


# -- the JSON-LD context ----------------------------------------------------------------------

def _issued(usecase: UseCase, example: dict[str, Any]) -> dict[str, Any]:
    issuer = IssuerRef("Stadt Gelsenkirchen", "05513000", "0x" + "11" * 20, 31337,
                       "0x" + "22" * 20, did.municipality_did("https://h", "05513000"))
    doc = new_document(
        credential_type=usecase.credential_type, usecase_id=usecase.id,
        subject=example["subject"], issuer=issuer,
        valid_from=datetime(2026, 1, 1, tzinfo=UTC), valid_until=None,
        context_url=CONTEXT_URL,
        status_entries=status_lists.entries("https://h", "05513000", 0, 7))
    salted = salt_document(doc)
    return {**doc, "proof": {"type": "GovchainMerkleProof2026", "canonicalization": "RFC8785",
                             "hash": "keccak256", "targetHash": "0x" + salted.target_hash.hex(),
                             "merkleRoot": "0x" + "33" * 32, "path": ["0x" + "44" * 32],
                             "salts": salted.salts, "hidden": [],
                             "anchor": {"chainId": 31337, "block": 5}}}


def _examples() -> Iterator[tuple[str, UseCase, dict[str, Any]]]:
    for usecase in USECASES:
        for i, example in enumerate(usecase.examples):
            yield f"{usecase.id}-{i}", usecase, example


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def _predicates(expanded: Any) -> Iterator[str]:
    if isinstance(expanded, dict):
        for key, inner in expanded.items():
            if not key.startswith("@"):
                yield key
            yield from _predicates(inner)
    elif isinstance(expanded, list):
        for inner in expanded:
            yield from _predicates(inner)


@pytest.mark.parametrize(("name", "usecase", "example"), list(_examples()),
                         ids=[n for n, _, _ in _examples()])
def test_expansion_keeps_every_field_of_every_example(name: str, usecase: UseCase,
                                                      example: dict[str, Any]) -> None:
    from pyld import jsonld
    context = build_context(USECASES, RESERVED)
    loader = data_integrity.document_loader({CONTEXT_URL: context})
    document = _issued(usecase, example)
    # canonicalization refuses any term that does not expand (pyld's dropped-property hook)
    nquads = data_integrity.canonical_nquads(document, loader)
    expanded = jsonld.expand(document, {"documentLoader": loader})
    predicates = set(_predicates(expanded))
    for key in set(_keys(document["credentialSubject"])):
        if key in RESERVED:
            continue
        assert VOCAB + key in predicates, key
        assert f"<{VOCAB}{key}>" in nquads, key
    # proof members and salts survive as govchain terms (the salts as one JSON literal)
    proof_predicates = set(_predicates(expanded[0]["https://w3id.org/security#proof"]))
    assert {VOCAB + "targetHash", VOCAB + "salts", VOCAB + "merkleRoot"} <= proof_predicates
    # nothing left to a catch-all vocabulary
    assert not [p for p in predicates if "issuer-dependent" in p]


def test_the_context_is_protected_and_defines_no_vc_term_again() -> None:
    context = build_context(USECASES, RESERVED)["@context"]
    assert context["@protected"] is True
    assert not RESERVED & set(context)
    assert context["salts"] == {"@id": VOCAB + "salts", "@type": "@json"}
    # lists are sets in RDF (see domain.jsonld_context): no anonymous list cells
    assert context["zeitfenster"] == VOCAB + "zeitfenster"


def test_a_new_use_case_brings_its_terms_and_reserved_names_are_refused() -> None:
    usecase = USECASES.get("strassenmusik")
    terms = usecase_terms(usecase)
    assert usecase.credential_type in terms and "kuenstlername" in terms
    broken = {**usecase.schema, "properties": {**usecase.schema["properties"],
                                               "id": {"type": "string"}}}
    from dataclasses import replace
    with pytest.raises(ConfigurationError, match="reserviert"):
        usecase_terms(replace(usecase, schema=broken))


def test_documents_before_status_lists_read_as_before() -> None:
    usecase = USECASES.get("gefaehrlicher-hund")
    issuer = IssuerRef("Stadt", "05513000", "0x" + "11" * 20, 1, "0x" + "22" * 20)
    doc = new_document(credential_type=usecase.credential_type, usecase_id=usecase.id,
                       subject=usecase.examples[0]["subject"], issuer=issuer,
                       valid_from=datetime(2026, 1, 1, tzinfo=UTC), valid_until=None)
    assert doc["@context"][1] == GOVCHAIN_CONTEXT
    assert doc["issuer"]["id"] == "urn:govchain:municipality:05513000"
    assert isinstance(doc["credentialStatus"], dict)
