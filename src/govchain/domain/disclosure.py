"""Selective disclosure: hiding subject fields moves their hashes into ``proof.hidden`` and drops
value and salt, so the targetHash and with it the anchored proof stay the same. Works offline,
without the issuer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from govchain.domain.documents import ENVELOPE_KEYS, field_hash, split_proof_set
from govchain.domain.hashing import to_hex
from govchain.domain.pointers import copy_json, is_within, iter_leaves, parse_pointer
from govchain.errors import InputError


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

    A proof set keeps only the govchain proof once a field is hidden: the Data Integrity
    signature covers the whole document and would no longer hold.
    """
    merkle_only, other_proofs = split_proof_set(document)
    if other_proofs and not hide:
        whole: dict[str, Any] = copy_json(dict(document))
        return whole
    doc: dict[str, Any] = copy_json(merkle_only)
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
