"""Salted per-field hashing, tamper detection and selective disclosure (no chain needed)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.domain.disclosure import disclose
from govchain.domain.documents import (
    SALT_BYTES,
    AnchorRef,
    IssuerRef,
    declaration_evidence,
    declaration_evidence_of,
    finish_document,
    make_batch,
    new_document,
    recompute_target_hash,
    salt_document,
)
from govchain.domain.hashing import from_hex32, to_hex
from govchain.domain.merkle import root_of
from govchain.domain.pointers import iter_leaves, parse_pointer
from govchain.errors import InputError

ISSUER = IssuerRef(name="Stadt Aachen", ags="05334002",
                   account="0x00000000000000000000000000000000000000a1",
                   chain_id=1337, registry="0x00000000000000000000000000000000000000b2")
ANCHOR = AnchorRef(1337, ISSUER.registry, "0x" + "11" * 32, 7, 1_790_000_000)
SUBJECT: dict[str, Any] = {
    "halter": {"name": "Muster", "vorname": "Erika", "geburtsdatum": "1980-02-03"},
    "hund": {"name": "Bella", "chipnummer": "276098100123456", "gewicht": 5},
    "auflagen": ["Leinenpflicht", "Maulkorbpflicht"],
    "leer": [],
}


def issue(subjects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    salted = [salt_document(new_document(
        credential_type="GefaehrlicherHundErlaubnis", usecase_id="gefaehrlicher-hund",
        subject=s, issuer=ISSUER, valid_from=start, valid_until=start + timedelta(days=365)))
        for s in subjects]
    batch = make_batch(salted)
    return [finish_document(batch, i, ANCHOR) for i in range(len(salted))]


def proves(doc: dict[str, Any]) -> bool:
    """The presented content hashes to the targetHash, and the path leads to the root."""
    try:
        target = recompute_target_hash(doc)
    except InputError:
        return False
    proof = doc["proof"]
    return (target == from_hex32(proof["targetHash"])
            and root_of(target, [from_hex32(p) for p in proof["path"]])
            == from_hex32(proof["merkleRoot"]))


def test_issued_documents_prove_and_share_one_root() -> None:
    docs = issue([SUBJECT, {**SUBJECT, "hund": {**SUBJECT["hund"], "name": "Rex"}}])
    assert all(proves(d) for d in docs)
    assert docs[0]["proof"]["merkleRoot"] == docs[1]["proof"]["merkleRoot"]
    assert docs[0]["proof"]["path"] != [] and docs[0]["proof"]["targetHash"] != \
        docs[1]["proof"]["targetHash"]


def test_document_is_shaped_like_a_verifiable_credential() -> None:
    (doc,) = issue([SUBJECT])
    assert doc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert doc["type"] == ["VerifiableCredential", "GefaehrlicherHundErlaubnis"]
    assert doc["id"].startswith("urn:uuid:")
    assert doc["issuer"]["ags"] == "05334002" and doc["issuer"]["chainId"] == 1337
    assert doc["validFrom"] == "2026-01-01T00:00:00+00:00"
    for key in ("type", "targetHash", "merkleRoot", "path", "salts", "anchor"):
        assert key in doc["proof"]
    assert doc["proof"]["anchor"]["transactionHash"] == ANCHOR.transaction_hash


def test_every_field_has_its_own_salt_of_at_least_128_bits() -> None:
    (doc,) = issue([SUBJECT])
    salts = doc["proof"]["salts"]
    leaves = [p for p, _ in iter_leaves(doc["credentialSubject"])]
    assert sorted(salts) == sorted(leaves)
    assert len(set(salts.values())) == len(salts)
    assert all(len(bytes.fromhex(s)) >= SALT_BYTES >= 16 for s in salts.values())


def test_same_content_gives_different_hashes() -> None:
    a, b = issue([SUBJECT, SUBJECT])
    assert a["proof"]["targetHash"] != b["proof"]["targetHash"]


def test_json_type_is_part_of_the_hash() -> None:
    (doc,) = issue([SUBJECT])
    doc["credentialSubject"]["hund"]["gewicht"] = "5"
    assert not proves(doc)


def every_tamper(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One altered copy per leaf of the subject and per envelope/proof element."""
    out: list[tuple[str, dict[str, Any]]] = []
    for pointer, _ in iter_leaves(doc["credentialSubject"]):
        d = copy.deepcopy(doc)
        tokens = parse_pointer(pointer)
        node: Any = d["credentialSubject"]
        for t in tokens[:-1]:
            node = node[int(t)] if isinstance(node, list) else node[t]
        if not tokens:
            continue  # the subject itself is an empty object
        last = tokens[-1]
        key: Any = int(last) if isinstance(node, list) else last
        node[key] = "x" if node[key] != "x" else "y"
        out.append((f"subject {pointer}", d))
    for key in ("validFrom", "validUntil", "id"):
        d = copy.deepcopy(doc)
        d[key] = d[key][:-1] + ("1" if d[key][-1] != "1" else "2")
        out.append((key, d))
    for key in ("name", "ags", "account"):
        d = copy.deepcopy(doc)
        d["issuer"][key] = d["issuer"][key] + "0"
        out.append((f"issuer.{key}", d))
    d = copy.deepcopy(doc)
    d["type"][1] = "StrassenmusikErlaubnis"
    out.append(("type", d))
    for pointer in doc["proof"]["salts"]:
        d = copy.deepcopy(doc)
        s = d["proof"]["salts"][pointer]
        d["proof"]["salts"][pointer] = ("0" if s[0] != "0" else "1") + s[1:]
        out.append((f"salt {pointer}", d))
    for i in range(len(doc["proof"]["path"])):
        d = copy.deepcopy(doc)
        p = d["proof"]["path"][i]
        d["proof"]["path"][i] = p[:-1] + ("0" if p[-1] != "0" else "1")
        out.append((f"path[{i}]", d))
    for key in ("targetHash", "merkleRoot"):
        d = copy.deepcopy(doc)
        h = d["proof"][key]
        d["proof"][key] = h[:-1] + ("0" if h[-1] != "0" else "1")
        out.append((key, d))
    return out


def test_tampering_any_field_salt_or_path_element_breaks_the_proof() -> None:
    docs = issue([SUBJECT, SUBJECT, SUBJECT])
    tampered = every_tamper(docs[1])
    assert len(tampered) > 20
    for what, d in tampered:
        assert not proves(d), what


def test_adding_or_removing_a_field_breaks_the_proof() -> None:
    (doc,) = issue([SUBJECT])
    d = copy.deepcopy(doc)
    d["credentialSubject"]["neu"] = "x"
    d["proof"]["salts"]["/neu"] = "00" * 16
    assert not proves(d)
    d = copy.deepcopy(doc)
    del d["credentialSubject"]["hund"]["name"]
    assert not proves(d)


def test_hiding_fields_keeps_the_proof() -> None:
    (doc,) = issue([SUBJECT])
    shown = disclose(doc, ["/halter/geburtsdatum", "hund.gewicht", "/auflagen/0", "/leer"])
    assert proves(shown)
    subject = shown["credentialSubject"]
    assert "geburtsdatum" not in subject["halter"] and "gewicht" not in subject["hund"]
    assert subject["auflagen"] == [None, "Maulkorbpflicht"]
    assert "/halter/geburtsdatum" not in shown["proof"]["salts"]
    assert len(shown["proof"]["hidden"]) == 4
    assert "1980-02-03" not in str(shown)
    # Hiding is repeatable, and whole objects can go.
    assert proves(disclose(shown, ["/halter"]))
    assert doc["credentialSubject"]["halter"]["geburtsdatum"] == "1980-02-03"  # original untouched


def test_hidden_field_cannot_be_reinserted_with_another_value() -> None:
    (doc,) = issue([SUBJECT])
    shown = disclose(doc, ["/halter/geburtsdatum"])
    shown["credentialSubject"]["halter"]["geburtsdatum"] = "1999-09-09"
    shown["proof"]["salts"]["/halter/geburtsdatum"] = doc["proof"]["salts"]["/halter/geburtsdatum"]
    assert not proves(shown)


@pytest.mark.parametrize("path", ["type", "issuer", "validFrom", "validUntil", "proof.salts",
                                  "credentialStatus", "", "/gibtsnicht", "/auflagen/5"])
def test_envelope_and_unknown_fields_cannot_be_hidden(path: str) -> None:
    (doc,) = issue([SUBJECT])
    with pytest.raises(InputError):
        disclose(doc, [path])


# Issued by govchain before documents had `evidence` (commit 29bde54), kept byte for byte.
OLD_CONFIRMATION: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2", "https://govchain.nrw/credentials/v1"],
    "type": ["VerifiableCredential", "Wohnungsgeberbestaetigung"],
    "id": "urn:uuid:5f0c2a9e-8d1b-4c3a-9e6f-0a1b2c3d4e5f",
    "issuer": {"id": "urn:govchain:municipality:05315000", "name": "Stadt Köln", "ags": "05315000",
               "account": "0x00000000000000000000000000000000000000a1", "chainId": 1337,
               "registry": "0x00000000000000000000000000000000000000b2"},
    "validFrom": "2026-03-02T09:15:00+00:00",
    "credentialSubject": {"wohnungsgeber": {"name": "Hausverwaltung Rheinblick GmbH"},
                          "art": "einzug", "datum": "2026-03-01"},
    "credentialStatus": {"type": "GovchainLedgerStatus2026", "usecase": "wohnungsgeberbestaetigung",
                         "chainId": 1337, "registry": "0x00000000000000000000000000000000000000b2"},
    "proof": {
        "type": "GovchainMerkleProof2026", "canonicalization": "RFC8785", "hash": "keccak256",
        "targetHash": "0x8134313e063c238270639ce0dae38e21409b416b071b1cda1ca9605a63be69b9",
        "merkleRoot": "0x5d3f054c8147acad52b8b5f77dc4f01805510e8d5b074b4584552523310461e9",
        "path": [],
        "salts": {"/wohnungsgeber/name": "17a9925842a56a746fee6860afbe641a",
                  "/art": "4feaa1f572741fb281b3d72c3a140a79",
                  "/datum": "f0bb03582903614f8a92341784b68830"},
        "hidden": [],
        "anchor": {"chainId": 1337, "contract": "0x00000000000000000000000000000000000000b2",
                   "transactionHash": "0x" + "11" * 32, "block": 7,
                   "anchoredAt": "2026-09-21T14:13:20+00:00"},
    },
}


def declared(**submitted: str) -> dict[str, Any]:
    """A landlord's confirmation as the service issues it now: with its declaration evidence."""
    start = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    evidence = declaration_evidence(
        declared_by="/wohnungsgeber", received_by=ISSUER, received_at=start,
        submitted_by=(submitted["role"], submitted["account"]) if submitted else None)
    salted = salt_document(new_document(
        credential_type="Wohnungsgeberbestaetigung", usecase_id="wohnungsgeberbestaetigung",
        subject=OLD_CONFIRMATION["credentialSubject"], issuer=ISSUER, valid_from=start,
        valid_until=None, evidence=[evidence]))
    return finish_document(make_batch([salted]), 0, ANCHOR)


def test_a_document_issued_before_evidence_existed_keeps_its_target_hash() -> None:
    assert proves(OLD_CONFIRMATION)
    assert to_hex(recompute_target_hash(OLD_CONFIRMATION)) == OLD_CONFIRMATION["proof"]["targetHash"]
    # evidence is hashed: put into an old document, it no longer proves
    added = copy.deepcopy(OLD_CONFIRMATION)
    added["evidence"] = declared(role="landlord", account="vermieter")["evidence"]
    assert not proves(added)


def test_the_declaration_evidence_is_hashed_and_cannot_be_hidden() -> None:
    doc = declared(role="landlord", account="vermieter")
    assert proves(doc)
    assert doc["evidence"] == [{
        "type": ["GovchainDeclaration2026"], "declaredBy": "/wohnungsgeber",
        "submittedBy": {"role": "landlord", "account": "vermieter"},
        "receivedBy": {"name": "Stadt Aachen", "ags": "05334002"},
        "receivedAt": "2026-03-02T09:15:00+00:00"}]
    assert declaration_evidence_of(doc) == doc["evidence"][0]
    for change in ({"submittedBy": {"role": "landlord", "account": "vonovia"}},
                   {"receivedAt": "2020-01-01T00:00:00+00:00"},
                   {"receivedBy": {"name": "Stadt Köln", "ags": "05315000"}},
                   {"declaredBy": "/eigentuemer"}):
        changed = copy.deepcopy(doc)
        changed["evidence"][0].update(change)
        assert not proves(changed), change
    removed = copy.deepcopy(doc)
    del removed["evidence"]
    assert not proves(removed)
    emptied = copy.deepcopy(doc)
    emptied["evidence"] = []
    assert not proves(emptied)
    for path in ("evidence", "evidence.0", "/evidence"):
        with pytest.raises(InputError):
            disclose(doc, [path])
    assert "submittedBy" not in declared()["evidence"][0]  # recorded by the office itself


def test_timestamps_need_a_timezone() -> None:
    with pytest.raises(InputError):
        new_document(credential_type="X", usecase_id="x", subject={}, issuer=ISSUER,
                     valid_from=datetime(2026, 1, 1), valid_until=None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda children: st.lists(children.filter(lambda v: v is not None), max_size=3)
    | st.dictionaries(st.text(min_size=1, max_size=5), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), json_values, min_size=1, max_size=5),
       st.data())
def test_property_hide_any_field_keeps_proof_and_any_change_breaks_it(
        subject: dict[str, Any], data: st.DataObject) -> None:
    (doc,) = issue([subject])
    assert proves(doc)
    key = data.draw(st.sampled_from(sorted(subject)))
    escaped = "/" + key.replace("~", "~0").replace("/", "~1")
    assert proves(disclose(doc, [escaped]))
    for what, d in every_tamper(doc):
        assert not proves(d), what
