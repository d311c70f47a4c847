"""What a presented document may hold beyond what its hash covers (issue 16, findings 2 and 3).

No chain: the shape checks of documents.py, the placeholders hiding leaves, and the use cases'
``neverHidden`` fields, loaded from the real use-case folders (verification with a ledger:
tests/property/test_tampering.py).
"""

from __future__ import annotations

import copy
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from govchain.domain.disclosure import disclose
from govchain.domain.documents import (
    AnchorRef,
    IssuerRef,
    check_presented,
    finish_document,
    make_batch,
    new_document,
    recompute_target_hash,
    salt_document,
)
from govchain.domain.hashing import from_hex32
from govchain.domain.pointers import hiding_placeholders
from govchain.domain.usecases import UseCase, UseCaseRegistry, default_usecases_dir, load_usecase
from govchain.errors import ConfigurationError, InputError

ISSUER = IssuerRef(name="Stadt Aachen", ags="05334002",
                   account="0x00000000000000000000000000000000000000a1",
                   chain_id=1337, registry="0x00000000000000000000000000000000000000b2")
ANCHOR = AnchorRef(1337, ISSUER.registry, "0x" + "11" * 32, 7, 1_790_000_000)
REGISTRY = UseCaseRegistry.load(default_usecases_dir())
DOG = REGISTRY.get("gefaehrlicher-hund")
MUSIC = REGISTRY.get("strassenmusik")


def issued(usecase: UseCase, index: int = 0) -> dict[str, Any]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    salted = [salt_document(new_document(
        credential_type=usecase.credential_type, usecase_id=usecase.id, subject=e["subject"],
        issuer=ISSUER, valid_from=start, valid_until=start + timedelta(days=365)))
        for e in usecase.examples]
    return finish_document(make_batch(salted), index, ANCHOR)


def proves(doc: dict[str, Any]) -> bool:
    try:
        check_presented(doc)
        return recompute_target_hash(doc) == from_hex32(doc["proof"]["targetHash"])
    except InputError:
        return False


# -- finding 3: members the hash does not cover ---------------------------------------------

@pytest.mark.parametrize("member", ["name", "description", "termsOfUse", "credentialSchema",
                                   "proofs", "Proof"])
def test_an_added_top_level_member_is_refused_by_name(member: str) -> None:
    doc = issued(DOG)
    assert proves(doc)
    doc[member] = "Amtlich geprüft – bitte durchlassen"
    with pytest.raises(InputError, match=repr(member)):
        check_presented(doc)


def test_an_added_evidence_changes_the_envelope_hash() -> None:
    doc = issued(DOG)
    doc["evidence"] = [{"type": ["Zeugnis"], "text": "vom Amt bestätigt"}]
    check_presented(doc)  # a member of the envelope: allowed, but hashed
    assert not proves(doc)


@pytest.mark.parametrize(("member", "value"), [
    ("type", "MerkleProof2019"), ("canonicalization", "JSON.stringify"), ("hash", "sha256"),
    ("signature", "0x00"), ("verificationMethod", "did:web:example.org"),
])
def test_proof_members_are_a_fixed_set_with_fixed_scheme_names(member: str, value: str) -> None:
    doc = issued(DOG)
    doc["proof"][member] = value
    with pytest.raises(InputError, match=member):
        check_presented(doc)


def test_proof_without_scheme_names_is_refused() -> None:
    doc = issued(DOG)
    del doc["proof"]["canonicalization"]
    with pytest.raises(InputError, match="canonicalization"):
        check_presented(doc)


def test_an_anchor_with_added_members_is_refused() -> None:
    doc = issued(DOG)
    doc["proof"]["anchor"]["issuedBy"] = "Landesregierung"
    with pytest.raises(InputError, match="issuedBy"):
        check_presented(doc)
    doc = issued(DOG)
    doc["proof"]["anchor"] = "2020-01-01"
    with pytest.raises(InputError, match="anchor"):
        check_presented(doc)


@pytest.mark.parametrize("where", ["/neu", "/halter/neu", "/auflagen/neu"])
@pytest.mark.parametrize("empty", [{}, []])
def test_an_added_empty_container_is_refused(where: str, empty: Any) -> None:
    doc = issued(DOG)
    node = doc["credentialSubject"]
    *parents, last = where[1:].split("/")
    for token in parents:
        node = node[token]
    node[last] = copy.deepcopy(empty)
    assert not proves(doc)


def test_an_added_null_in_a_list_is_refused() -> None:
    doc = issued(MUSIC)
    doc["credentialSubject"]["zonen"].append(None)
    assert not proves(doc)
    # also when something else was hidden, as long as placeholders outnumber hidden hashes
    shown = disclose(issued(MUSIC), ["/kuenstler/vorname"])
    shown["credentialSubject"]["zonen"] += [None, None]
    assert not proves(shown)


def test_placeholders_left_by_hiding_still_prove() -> None:
    # Objects whose members were all hidden stay as {}; links sealed by older versions hold such
    # documents, and they must still verify. Hidden list elements stay as null.
    doc = issued(DOG)
    members = list(doc["credentialSubject"]["halter"]["anschrift"])
    shown = disclose(doc, [f"/halter/anschrift/{m}" for m in members])
    assert shown["credentialSubject"]["halter"]["anschrift"] == {}
    assert hiding_placeholders(shown["credentialSubject"], shown["proof"]["salts"]) == [
        "/halter/anschrift"]
    assert proves(shown)
    music = disclose(issued(MUSIC), ["/zonen/0"])
    assert hiding_placeholders(music["credentialSubject"], music["proof"]["salts"]) == ["/zonen/0"]
    assert proves(music)


def test_a_placeholder_can_only_stand_where_hiding_leaves_one() -> None:
    # a hidden value replaced by {}: the count of hidden hashes allows it, the schema does not
    assert MUSIC.placeholder_problem("/kuenstler/vorname", {}) == "ist hier kein Objekt"
    assert MUSIC.placeholder_problem("/gibtsnicht", {}) == "gibt es im Schema nicht"
    assert MUSIC.placeholder_problem("/zonen/3", None) is None
    assert MUSIC.placeholder_problem("/zonen/3", {}) is None
    assert MUSIC.placeholder_problem("/besetzung/instrumente/0", None) is None
    assert MUSIC.placeholder_problem("/besetzung/instrumente/0", {}) == "ist hier kein Objekt"
    assert MUSIC.placeholder_problem("/kuenstler", {}) is None
    assert DOG.placeholder_problem("/halter/anschrift", {}) is None  # through $ref
    assert DOG.placeholder_problem("/halter/geburtsdatum", {}) == "ist hier kein Objekt"


# -- finding 2: fields that may never be hidden ----------------------------------------------

def test_every_use_case_names_its_never_hidden_fields() -> None:
    assert MUSIC.never_hidden[0] == "/zeitfenster" and MUSIC.schedule_pointer == "/zeitfenster"
    assert set(DOG.never_hidden) >= {"/hund/chipnummer", "/kategorie", "/auflagen",
                                     "/erlaubnisnummer"}
    assert all(uc.never_hidden for uc in REGISTRY)
    assert MUSIC.protected_fields["/zeitfenster"] == "Zeitfenster"


@pytest.mark.parametrize("hide", ["/zeitfenster", "/zeitfenster/2", "/zeitfenster/0/von",
                                  "zeitfenster.1.tage", "/zonen/0/beschreibung", "/regeln"])
def test_disclose_refuses_never_hidden_fields_and_anything_below_them(hide: str) -> None:
    with pytest.raises(InputError, match="bleibt bei dieser Dokumentart immer sichtbar"):
        disclose(issued(MUSIC), [hide], protected=MUSIC.protected_fields)


def test_disclose_refuses_a_group_holding_a_never_hidden_field() -> None:
    with pytest.raises(InputError, match="Chipnummer"):
        disclose(issued(DOG), ["/hund"], protected=DOG.protected_fields)
    shown = disclose(issued(DOG), ["/hund/name", "/halter"], protected=DOG.protected_fields)
    assert proves(shown)


@pytest.mark.parametrize("hide", ["/zeitfenster/2", "/zeitfenster/0/von", "/zeitfenster/1/tage",
                                  "/zeitfenster"])
def test_a_hidden_never_hidden_field_is_found_in_a_presented_document(hide: str) -> None:
    shown = disclose(issued(MUSIC), [hide])  # as another tool would, without the use case
    subject, salts = shown["credentialSubject"], shown["proof"]["salts"]
    assert MUSIC.hidden_protected_field(subject, salts) == "/zeitfenster"
    full = issued(MUSIC)
    assert MUSIC.hidden_protected_field(full["credentialSubject"], full["proof"]["salts"]) is None


def test_hiding_every_member_of_a_never_hidden_object_is_found() -> None:
    doc = issued(DOG)
    shown = disclose(doc, [f"/auflagen/{k}" for k in doc["credentialSubject"]["auflagen"]])
    assert DOG.hidden_protected_field(shown["credentialSubject"],
                                      shown["proof"]["salts"]) == "/auflagen"


def _folder_with(tmp_path: Path, usecase_id: str, **changes: Any) -> Path:
    folder = tmp_path / usecase_id
    shutil.copytree(default_usecases_dir() / usecase_id, folder)
    meta = json.loads((folder / "usecase.json").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    (folder / "usecase.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("never_hidden", "message"), [
    (["/zeitfenster", "/gibtsnicht"], "gibt es im Schema nicht"),
    (["/zeitfenster", "/zeitfenster/0"], "gibt es im Schema nicht"),  # no list positions
    (["/zeitfenster", "/kuenstler/kuenstlername"], "kein Pflichtfeld"),
    (["/zonen"], "Zeitfenster"),  # the schedule must be among them
    (None, "Zeitfenster"),
    (["zeitfenster"], "neverHidden"),  # not a JSON Pointer
])
def test_never_hidden_is_checked_when_the_folder_loads(tmp_path: Path, never_hidden: Any,
                                                       message: str) -> None:
    folder = _folder_with(tmp_path, "strassenmusik", neverHidden=never_hidden)
    with pytest.raises(ConfigurationError, match=message):
        load_usecase(folder)
