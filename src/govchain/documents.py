"""Documents shaped like W3C Verifiable Credentials 2.0, with salted per-field hashes.

Every leaf value of ``credentialSubject`` (addressed by its JSON Pointer) gets its own random salt and
hashes to keccak256(JCS({"path", "salt", "value"})): JCS keeps the JSON type, so 5 and "5" differ.
Everything outside the subject except the proof (context, type, id, issuer, validity, status) forms the
envelope, which cannot be hidden. The document's targetHash is keccak256(JCS({"envelope": hash,
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

from govchain.errors import InputError
from govchain.hashing import Hash32, canonical_json, from_hex32, keccak, leaf_json, to_hex
from govchain.merkle import MerkleTree

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
GOVCHAIN_CONTEXT = "https://govchain.nrw/credentials/v1"
PROOF_TYPE = "GovchainMerkleProof2026"
STATUS_TYPE = "GovchainLedgerStatus2026"
SALT_BYTES = 16  # 128 bits from the OS CSPRNG, per field
# Members hashed as the envelope; they cannot be hidden.
ENVELOPE_KEYS = (
    "@context", "type", "id", "issuer", "validFrom", "validUntil", "credentialStatus",
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
    return doc


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
        "type": PROOF_TYPE,
        "canonicalization": "RFC8785",
        "hash": "keccak256",
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
        if salt is None and value in ({}, []):
            continue  # a container emptied by hiding all its members; it carries no content
        if not isinstance(salt, str) or len(salt) < 2 * SALT_BYTES:
            raise InputError(f"Feld {pointer or '/'} hat kein gültiges Salz")
        seen.add(pointer)
        hashes.append(field_hash(pointer, salt, value))
    extra = set(salts) - seen
    if extra:
        raise InputError(f"Salz ohne Feld: {sorted(extra)[0]}")
    try:
        hashes += [from_hex32(h) for h in hidden]
    except ValueError as err:
        raise InputError(f"proof.hidden ist beschädigt: {err}") from err
    if len(set(hashes)) != len(hashes):
        raise InputError("Ein Feld ist doppelt enthalten")
    return target_hash_of(envelope_of(document), hashes)


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


def disclose(document: Mapping[str, Any], hide: Sequence[str]) -> dict[str, Any]:
    """A copy of `document` with the given subject fields hidden; the proof stays valid.

    Works offline, without the issuer. Type, issuer and validity dates are not subject fields and
    cannot be hidden.
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
