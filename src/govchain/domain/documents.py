"""Documents shaped like W3C Verifiable Credentials 2.0, with salted per-field hashes.

Every leaf value of ``credentialSubject`` (addressed by its JSON Pointer) gets its own random salt and
hashes to keccak256(JCS({"path", "salt", "value"})): JCS keeps the JSON type, so 5 and "5" differ.
Everything outside the subject except the proof (context, type, id, issuer, validity, status, evidence)
forms the envelope, which cannot be hidden. The document's targetHash is keccak256(JCS({"envelope": hash,
"fields": sorted field hashes})). A holder hides a field by moving its hash to ``proof.hidden`` and
dropping value and salt: the targetHash stays the same, so the anchored proof still holds.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from govchain.domain.hashing import Hash32, canonical_json, from_hex32, keccak, leaf_json, to_hex
from govchain.domain.merkle import MerkleTree
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

    def to_json(self) -> dict[str, Any]:
        return {
            "id": f"urn:govchain:municipality:{self.ags}",
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


# -- pointers ---------------------------------------------------------------------------------

def escape_token(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def parse_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise InputError(f"Ungültiger Feldpfad {pointer!r}: muss mit '/' beginnen (JSON Pointer)")
    return [_unescape(t) for t in pointer[1:].split("/")]


def resolve_pointer(instance: Any, pointer: str) -> Any:
    """The value at `pointer` inside `instance`; LookupError if there is none."""
    node = instance
    for token in parse_pointer(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise LookupError(pointer)
    return node


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars); several times faster than deepcopy."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def iter_leaves(value: Any, pointer: str = "") -> list[tuple[str, Any]]:
    """(JSON Pointer, value) of every scalar and every empty list or object, in document order.

    A None inside a list is where a hidden list element stood; it is skipped (a real null value
    inside a list is not allowed by any use case schema).
    """
    out: list[tuple[str, Any]] = []
    _leaves(value, pointer, out)
    return out


def _leaves(value: Any, pointer: str, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        if not value:
            out.append((pointer, value))
        for key, child in value.items():
            if "~" in key or "/" in key:
                key = escape_token(key)
            _leaves(child, f"{pointer}/{key}", out)
    elif isinstance(value, list):
        if not value:
            out.append((pointer, value))
        for i, child in enumerate(value):
            if child is not None:
                _leaves(child, f"{pointer}/{i}", out)
    else:
        out.append((pointer, value))


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


# -- issuing ----------------------------------------------------------------------------------

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
) -> dict[str, Any]:
    """A complete document without its proof: envelope plus subject, with a fresh id."""
    doc: dict[str, Any] = {
        "@context": [VC_CONTEXT, GOVCHAIN_CONTEXT],
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
    doc["credentialStatus"] = {
        "type": STATUS_TYPE,
        "usecase": usecase_id,
        "chainId": issuer.chain_id,
        "registry": issuer.registry,
    }
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


# -- reading a presented document -------------------------------------------------------------

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


def hiding_placeholders(subject: Any, salts: Mapping[str, Any], pointer: str = "") -> list[str]:
    """Pointers of what hiding left in a subject: null list elements (hidden elements) and
    unsalted empty objects (objects whose members were all hidden). They carry no content and
    are never shown; each stands for at least one hidden hash of its own."""
    out: list[str] = []
    _placeholders(subject, salts, pointer, out)
    return out


def _placeholders(value: Any, salts: Mapping[str, Any], pointer: str, out: list[str]) -> None:
    if isinstance(value, dict):
        if not value and pointer not in salts:
            out.append(pointer)
        for key, child in value.items():
            _placeholders(child, salts, f"{pointer}/{escape_token(key)}", out)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            if child is None:
                out.append(f"{pointer}/{i}")
            else:
                _placeholders(child, salts, f"{pointer}/{i}", out)


def is_within(pointer: str, other: str) -> bool:
    """Whether `pointer` is `other` or lies below it (a pointer covers everything below it)."""
    return pointer == other or pointer.startswith(other + "/")


# -- selective disclosure ---------------------------------------------------------------------

def _subject_pointer(path: str) -> str:
    """Accepts '/halter/name', 'credentialSubject/halter/name' or 'halter.name'."""
    p = path
    for prefix in ("/credentialSubject", "credentialSubject"):
        if p.startswith(prefix + "/") or p.startswith(prefix + "."):
            p = p[len(prefix):]
    if not p.startswith("/"):
        if p.split(".")[0].split("/")[0] in ENVELOPE_KEYS or p.startswith("proof"):
            raise InputError(f"{path!r} kann nicht verborgen werden: nur Felder von credentialSubject")
        p = "/" + p.replace(".", "/")
    return p


def disclose(document: Mapping[str, Any], hide: Sequence[str],
             protected: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A copy of `document` with the given subject fields hidden; the proof stays valid.

    Works offline, without the issuer. Type, issuer and validity dates are not subject fields and
    cannot be hidden, and neither can the fields in `protected` (JSON Pointer → label: the use
    case's ``neverHidden``), anything below them or anything containing them.
    """
    doc: dict[str, Any] = copy_json(dict(document))
    subject = doc.get("credentialSubject")
    proof = doc.get("proof")
    if not isinstance(subject, dict) or not isinstance(proof, dict):
        raise InputError("Kein ausgestelltes govchain-Dokument (credentialSubject/proof fehlt)")
    salts: dict[str, str] = proof["salts"]
    hidden: list[str] = proof.setdefault("hidden", [])
    for raw in hide:
        pointer = _subject_pointer(raw)
        tokens = parse_pointer(pointer)
        if not tokens:
            raise InputError("Das ganze credentialSubject kann nicht verborgen werden")
        for kept, label in (protected or {}).items():
            if is_within(pointer, kept) or is_within(kept, pointer):
                raise InputError(f"{raw!r} kann nicht verborgen werden: „{label}“ ({kept}) "
                                 "bleibt bei dieser Dokumentart immer sichtbar")
        parent: Any = subject
        for token in tokens[:-1]:
            parent = _child(parent, token, raw)
        value = _child(parent, tokens[-1], raw)
        for leaf_pointer, leaf_value in iter_leaves(value, pointer):
            salt = salts.pop(leaf_pointer)
            hidden.append(to_hex(field_hash(leaf_pointer, salt, leaf_value)))
        if isinstance(parent, list):
            parent[int(tokens[-1])] = None  # keeps the positions of the other elements
        else:
            del parent[tokens[-1]]
    hidden.sort()
    return doc


def _child(container: Any, token: str, raw: str) -> Any:
    if isinstance(container, dict) and token in container:
        return container[token]
    if (isinstance(container, list) and token.isdigit() and int(token) < len(container)
            and container[int(token)] is not None):
        return container[int(token)]
    raise InputError(f"Feld {raw!r} gibt es in diesem Dokument nicht (oder es ist schon verborgen)")
