"""Documents shaped like W3C Verifiable Credentials 2.0, with salted per-field hashes.

Every leaf value of ``credentialSubject`` (addressed by its JSON Pointer) gets its own random salt and
hashes to keccak256(JCS({"path", "salt", "value"})): JCS keeps the JSON type, so 5 and "5" differ.
Everything outside the subject except the proof (context, type, id, issuer, validity, status, evidence)
forms the envelope, which cannot be hidden. The document's targetHash is keccak256(JCS({"envelope": hash,
"fields": sorted field hashes})). A holder hides a field by moving its hash to ``proof.hidden`` and
dropping value and salt: the targetHash stays the same, so the anchored proof still holds.

Pointers and leaves: `pointers`; hiding fields: `disclosure`.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from govchain.domain import status_lists
from govchain.domain.hashing import Hash32, canonical_json, from_hex32, keccak, leaf_json, to_hex
from govchain.domain.merkle import MerkleTree
from govchain.domain.pointers import copy_json, hiding_placeholders, iter_leaves
from govchain.domain.vocabulary import is_ags
from govchain.errors import InputError

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
GOVCHAIN_CONTEXT = "https://govchain.nrw/credentials/v1"
PROOF_TYPE = "GovchainMerkleProof2026"
STATUS_TYPE = "GovchainLedgerStatus2026"
SALT_BYTES = 16  # 128 bits from the OS CSPRNG, per field


# What the proof may hold. Only targetHash, merkleRoot and path (checked against the ledger) and
# salts and hidden (checked by the hash) carry weight; type, canonicalization and hash must name
# the one scheme there is; anchor is a copy of the ledger's answer for people reading the file
# and is never shown or trusted (verification answers with the ledger's own anchor).
PROOF_CONSTANTS = {"type": PROOF_TYPE, "canonicalization": "RFC8785", "hash": "keccak256"}
PROOF_KEYS = (*PROOF_CONSTANTS, "targetHash", "merkleRoot", "path", "salts", "hidden", "anchor")
ANCHOR_KEYS = ("chainId", "contract", "transactionHash", "block", "anchoredAt")
DECLARATION_TYPE = "GovchainDeclaration2026"


# Members hashed as the envelope; they cannot be hidden. A document without one of them (e.g.
# without `evidence`, as all documents issued before it existed) hashes as it always did.
ENVELOPE_KEYS = (
    "@context", "type", "id", "issuer", "validFrom", "validUntil", "credentialStatus", "evidence",
)


@dataclass(frozen=True)
class IssuerRef:
    """Who anchors the document: the municipality and the account, on which ledger."""

    name: str
    ags: str
    account: str
    chain_id: int
    registry: str
    # The municipality's DID (did:web, served by govchain); None: the URN of documents issued
    # before municipalities had DIDs
    did: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.did or f"urn:govchain:municipality:{self.ags}",
            "name": self.name,
            "ags": self.ags,
            "account": self.account,
            "chainId": self.chain_id,
            "registry": self.registry,
        }


@dataclass(frozen=True)
class AnchorRef:
    chain_id: int
    contract: str
    transaction_hash: str
    block: int
    timestamp: int

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "contract": self.contract,
            "transactionHash": self.transaction_hash,
            "block": self.block,
            "anchoredAt": datetime.fromtimestamp(self.timestamp, UTC).isoformat(),
        }

@dataclass(frozen=True)
class DocumentFacts:
    """What the service keeps beside a salted document to find and list it, read from the
    document itself (so the two cannot disagree)."""

    id: str
    ags: str
    account: str | None
    usecase: str
    subject: dict[str, Any]
    valid_from: Any  # as written (RFC 3339 text), checked by whoever stores it
    valid_until: Any
    # (list number, index) in the municipality's status lists; None for documents without
    status_position: tuple[int, int] | None = None


def facts_of(document: Mapping[str, Any]) -> DocumentFacts:
    """The facts of an issued or salted govchain document; InputError if one is missing."""
    try:
        issuer = document["issuer"]
        facts = DocumentFacts(
            id=str(document["id"]), ags=str(issuer["ags"]), account=issuer.get("account"),
            usecase=str(ledger_status_of(document)["usecase"]),
            subject=dict(document["credentialSubject"]),
            valid_from=document.get("validFrom"), valid_until=document.get("validUntil"),
            status_position=status_lists.position_of(document))
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise InputError(f"Das Dokument ist unvollständig: {err}") from err
    if not is_ags(facts.ags):
        raise InputError(f"Ungültiger Gemeindeschlüssel {facts.ags!r}")
    return facts


def ledger_status_of(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The document's ledger status entry (STATUS_TYPE): `credentialStatus` itself in documents
    issued before status lists, else the entry of that type in its list. KeyError if none."""
    status = document["credentialStatus"]
    entries = status if isinstance(status, list) else [status]
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("type") == STATUS_TYPE:
            return entry
    raise KeyError("credentialStatus: kein Eintrag vom Typ " + STATUS_TYPE)


def usecase_id_of(document: object) -> str | None:
    """The use case the document's ledger status entry names; None where it has none."""
    try:
        usecase_id = ledger_status_of(document)["usecase"]  # type: ignore[arg-type]
    except (KeyError, TypeError, AttributeError):
        return None
    return usecase_id if isinstance(usecase_id, str) else None


def anchor_ref_of(document: Mapping[str, Any], transaction_hash: str, block: int,
                  at: datetime) -> AnchorRef:
    """The anchor of a document whose batch was anchored by `transaction_hash` in `block` at `at`,
    on the chain and registry its issuer names."""
    issuer = document["issuer"]
    return AnchorRef(int(issuer["chainId"]), str(issuer["registry"]), transaction_hash, block,
                     int(at.timestamp()))



def field_hash(pointer: str, salt: str, value: Any) -> Hash32:
    return keccak(leaf_json(pointer, salt, value))


def envelope_of(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: document[k] for k in ENVELOPE_KEYS if k in document}


def target_hash_of(envelope: Mapping[str, Any], field_hashes: Sequence[bytes]) -> Hash32:
    """keccak of the RFC 8785 JSON {"envelope": hex(keccak(JCS(envelope))), "fields": [hex of
    each field hash, sorted]}; the outer JSON is written directly (hex strings need no escaping,
    and 32-byte values sort as their hex does)."""
    envelope_hex = keccak(canonical_json(envelope)).hex()
    fields = ",".join(f'"0x{h.hex()}"' for h in sorted(field_hashes))
    body = f'{{"envelope":"0x{envelope_hex}","fields":[{fields}]}}'
    return keccak(body.encode("ascii"))


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise InputError("Zeitangaben brauchen eine Zeitzone (z. B. 2026-01-01T00:00:00+01:00)")
    return dt.isoformat(timespec="seconds")


def new_document(
    *,
    credential_type: str,
    usecase_id: str,
    subject: Mapping[str, Any],
    issuer: IssuerRef,
    valid_from: datetime,
    valid_until: datetime | None,
    evidence: Sequence[Mapping[str, Any]] = (),
    context_url: str = GOVCHAIN_CONTEXT,
    status_entries: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A complete document without its proof: envelope plus subject, with a fresh id.

    With `status_entries` (Bitstring Status List entries) `credentialStatus` is a list: the
    ledger's entry first, then those; without, the ledger's entry alone, as before."""
    doc: dict[str, Any] = {
        "@context": [VC_CONTEXT, context_url],
        "type": ["VerifiableCredential", credential_type],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "issuer": issuer.to_json(),
        "validFrom": _iso(valid_from),
    }
    if valid_until is not None:
        if valid_until <= valid_from:
            raise InputError("validUntil muss nach validFrom liegen")
        doc["validUntil"] = _iso(valid_until)
    doc["credentialSubject"] = copy_json(dict(subject))
    ledger_entry = {
        "type": STATUS_TYPE,
        "usecase": usecase_id,
        "chainId": issuer.chain_id,
        "registry": issuer.registry,
    }
    doc["credentialStatus"] = ([ledger_entry, *(dict(e) for e in status_entries)]
                               if status_entries else ledger_entry)
    if evidence:
        doc["evidence"] = [copy_json(dict(e)) for e in evidence]
    return doc


def declaration_evidence(*, declared_by: str, received_by: IssuerRef, received_at: datetime,
                         submitted_by: tuple[str, str] | None) -> dict[str, Any]:
    """The W3C VC `evidence` of a third party's declaration that the municipality received (a
    Wohnungsgeberbestätigung, § 19 BMG): who declares it (the JSON Pointer of the declarant in the
    subject), through which account of the service it was submitted (role, username; None when
    the office recorded it without one), which office received it and when. Hashed with the
    envelope, so it cannot be changed, removed or hidden."""
    item: dict[str, Any] = {"type": [DECLARATION_TYPE], "declaredBy": declared_by}
    if submitted_by is not None:
        item["submittedBy"] = {"role": submitted_by[0], "account": submitted_by[1]}
    item["receivedBy"] = {"name": received_by.name, "ags": received_by.ags}
    item["receivedAt"] = _iso(received_at)
    return item


def declaration_evidence_of(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The document's declaration evidence (the first `evidence` item of DECLARATION_TYPE)."""
    evidence = document.get("evidence")
    if not isinstance(evidence, list):
        return None
    for item in evidence:
        if isinstance(item, Mapping) and isinstance(item.get("type"), list) \
                and DECLARATION_TYPE in item["type"]:
            return item
    return None


@dataclass(frozen=True)
class SaltedDocument:
    """A document with its salts and targetHash, waiting for its batch to be anchored."""

    document: dict[str, Any]
    salts: dict[str, str]
    target_hash: Hash32


def salt_document(document: dict[str, Any]) -> SaltedDocument:
    leaves = iter_leaves(document["credentialSubject"])
    width = 2 * SALT_BYTES
    pool = secrets.token_hex(SALT_BYTES * len(leaves))  # one draw from the CSPRNG per document
    salts: dict[str, str] = {}
    hashes: list[Hash32] = []
    for i, (pointer, value) in enumerate(leaves):
        salt = pool[i * width:(i + 1) * width]
        salts[pointer] = salt
        hashes.append(field_hash(pointer, salt, value))
    return SaltedDocument(document, salts, target_hash_of(envelope_of(document), hashes))


@dataclass(frozen=True)
class Batch:
    """Documents that share one Merkle root (one anchor)."""

    items: tuple[SaltedDocument, ...]
    tree: MerkleTree

    @property
    def root(self) -> Hash32:
        return self.tree.root


def make_batch(documents: Sequence[SaltedDocument]) -> Batch:
    return Batch(tuple(documents), MerkleTree([d.target_hash for d in documents]))


def finish_document(batch: Batch, index: int, anchor: AnchorRef) -> dict[str, Any]:
    """The issued document: the salted document plus its Merkle path and the anchor."""
    return issued_document(batch.items[index], batch.root, batch.tree.proof(index), anchor)


def issued_document(item: SaltedDocument, root: bytes, path: Sequence[bytes], anchor: AnchorRef
                    ) -> dict[str, Any]:
    """The salted document with its proof: targetHash, Merkle root and path, salts, anchor."""
    doc: dict[str, Any] = copy_json(item.document)
    doc["proof"] = {
        **PROOF_CONSTANTS,
        "targetHash": to_hex(item.target_hash),
        "merkleRoot": to_hex(root),
        "path": [to_hex(p) for p in path],
        "salts": dict(item.salts),
        "hidden": [],
        "anchor": anchor.to_json(),
    }
    return doc


def split_proof_set(document: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """(the document with its govchain proof alone, the other proofs of its proof set).

    A W3C VC served by govchain carries a proof set: this Merkle proof and a Data Integrity
    proof (services.credentials). A document with one proof object is returned as it is."""
    proof = document.get("proof")
    if not isinstance(proof, list):
        return dict(document), []
    ours = [p for p in proof if isinstance(p, Mapping) and p.get("type") == PROOF_TYPE]
    if len(ours) != 1:
        raise InputError(f"Der Nachweis (proof) muss genau einen {PROOF_TYPE} enthalten, "
                         f"hier {len(ours)}")
    return {**document, "proof": ours[0]}, [p for p in proof if p is not ours[0]]


@dataclass(frozen=True)
class ParsedProof:
    target_hash: Hash32
    merkle_root: Hash32
    path: tuple[Hash32, ...]


def check_presented(document: object) -> None:
    """Refuses every part of a presented document that the targetHash does not cover.

    The hash covers the envelope members (ENVELOPE_KEYS) as a whole and each salted subject leaf;
    anything else a holder could add (a top-level "name" or "description" that wallets display,
    another proof type, extra proof members) would be shown without being proven, so it is an
    InputError naming the member. ``proof.anchor`` may be present (issued documents carry it) but
    is never trusted: verification answers with the ledger's anchor and refuses one that
    contradicts it. Placeholders of hidden content in the subject are checked by
    recompute_target_hash.
    """
    if not isinstance(document, Mapping):
        raise InputError("Das Dokument muss ein JSON-Objekt sein")
    allowed = (*ENVELOPE_KEYS, "credentialSubject", "proof")
    for key in document:
        if key not in allowed:
            raise InputError(f"Der Bestandteil {key!r} ist nicht durch den Nachweis gedeckt "
                             "(erlaubt sind nur " + ", ".join(allowed) + ")")
    proof = document.get("proof")
    if not isinstance(proof, Mapping):
        raise InputError("Das Dokument hat keinen Nachweis (proof)")
    for key in proof:
        if key not in PROOF_KEYS:
            raise InputError(f"Der Nachweis enthält den unbekannten Bestandteil proof.{key}")
    for key, expected in PROOF_CONSTANTS.items():
        if proof.get(key) != expected:
            raise InputError(f"proof.{key} muss {expected!r} sein")
    anchor = proof.get("anchor")
    if anchor is not None:
        if not isinstance(anchor, Mapping):
            raise InputError("proof.anchor ist beschädigt")
        for key in anchor:
            if key not in ANCHOR_KEYS:
                raise InputError(f"proof.anchor enthält den unbekannten Bestandteil {key!r}")


def parse_proof(document: Mapping[str, Any]) -> ParsedProof:
    """The proof's hashes, or InputError if the document has no well-formed proof."""
    proof = document.get("proof")
    if not isinstance(proof, dict):
        raise InputError("Das Dokument hat keinen Nachweis (proof)")
    try:
        path = proof.get("path")
        if not isinstance(path, list):
            raise ValueError("path")
        return ParsedProof(
            from_hex32(proof.get("targetHash")),
            from_hex32(proof.get("merkleRoot")),
            tuple(from_hex32(p) for p in path),
        )
    except ValueError as err:
        raise InputError(f"Der Nachweis (proof) ist beschädigt: {err}") from err


def recompute_target_hash(document: Mapping[str, Any]) -> Hash32:
    """The targetHash the presented content yields; InputError where content and salts don't fit."""
    subject = document.get("credentialSubject")
    proof = document.get("proof")
    if not isinstance(subject, dict) or not isinstance(proof, dict):
        raise InputError("credentialSubject oder proof fehlt")
    salts = proof.get("salts")
    hidden = proof.get("hidden", [])
    if not isinstance(salts, dict) or not isinstance(hidden, list):
        raise InputError("proof.salts oder proof.hidden ist beschädigt")
    hashes: list[bytes] = []
    seen: set[str] = set()
    for pointer, value in iter_leaves(subject):
        salt = salts.get(pointer)
        if salt is None and isinstance(value, dict) and not value:
            continue  # an object emptied by hiding all its members; it carries no content
        if salt is None and isinstance(value, list) and not value:
            # hiding never empties a list (hidden elements stay as null), so nothing explains it
            raise InputError(f"Feld {pointer or '/'}: leere Liste ohne Salz")
        if not isinstance(salt, str) or len(salt) < 2 * SALT_BYTES:
            raise InputError(f"Feld {pointer or '/'} hat kein gültiges Salz")
        seen.add(pointer)
        hashes.append(field_hash(pointer, salt, value))
    extra = set(salts) - seen
    if extra:
        raise InputError(f"Salz ohne Feld: {sorted(extra)[0]}")
    try:
        hidden_hashes = [from_hex32(h) for h in hidden]
    except ValueError as err:
        raise InputError(f"proof.hidden ist beschädigt: {err}") from err
    placeholders = hiding_placeholders(subject, salts)
    if len(placeholders) > len(hidden_hashes):
        # each null list element and each emptied object stands for at least one hidden field
        # of its own: more of them than hidden hashes were added, not left by hiding
        raise InputError(f"Platzhalter ohne verborgenes Feld: {placeholders[-1] or '/'} "
                         f"({len(placeholders)} Platzhalter, {len(hidden_hashes)} verborgene "
                         "Felder)")
    hashes += hidden_hashes
    if len(set(hashes)) != len(hashes):
        raise InputError("Ein Feld ist doppelt enthalten")
    return target_hash_of(envelope_of(document), hashes)
