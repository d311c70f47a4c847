"""govchain's JSON-LD context, generated: every term a govchain document writes gets a definition.

The W3C VC 2.0 context defines the envelope (issuer, validFrom, credentialSubject, proof, …) and
a few words such as ``name``; everything else govchain writes is defined here, under one
vocabulary (VOCAB): the issuer's ledger references, the ledger status entry, the Merkle proof,
the declaration evidence, each use case's credential type and every property name of every use
case's schema — taken from the schemas, so a new use-case folder brings its terms without code.
The proof's salts and its anchor copy are JSON literals (their keys are JSON Pointers and copies,
not statements). The context is ``@protected``: no later context may change what a govchain
term means.

A subject's lists are plain JSON-LD arrays (sets in RDF), not ``@list``: an RDF list makes each
element an anonymous list cell of the same shape, which RDF canonicalization can only tell apart
by its expensive n-degree step — and Digital Bazaar's verifier (rdf-canonize's work limit)
refuses documents that need it ("Maximum deep iterations exceeded"), as a street-music permit with
a few time windows did. The order of list elements is kept where it counts: in govchain's own
hash, which covers the JSON exactly (the Merkle path and hidden hashes in the proof keep
``@list``; their elements are distinct literals).

Versioning: a served context may gain terms (a new use case) but never change one; a change of
meaning is a new version (``/credentials/v2``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from govchain.domain.usecases import UseCase
from govchain.errors import ConfigurationError

VOCAB = "https://govchain.nrw/vocab#"
CONTEXT_PATH = "/credentials/v1"

_LIST: dict[str, Any] = {"@container": "@list"}
_JSON: dict[str, Any] = {"@type": "@json"}

# The members govchain's own envelope parts write (documents.IssuerRef, new_document,
# declaration_evidence, issued_document), with how their values read.
PROTOCOL_TERMS: dict[str, dict[str, Any]] = {
    # issuer
    "ags": {}, "account": {}, "chainId": {}, "registry": {},
    # ledger status entry
    "GovchainLedgerStatus2026": {}, "usecase": {},
    # declaration evidence
    "GovchainDeclaration2026": {}, "declaredBy": {}, "submittedBy": {}, "role": {},
    "receivedBy": {}, "receivedAt": {},
    # Merkle proof
    "GovchainMerkleProof2026": {}, "canonicalization": {}, "hash": {}, "targetHash": {},
    "merkleRoot": {}, "path": _LIST, "salts": _JSON, "hidden": _LIST, "anchor": _JSON,
}


def _properties(node: object) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every (property name, its schema) anywhere in a JSON Schema (properties at any depth,
    in items, $defs and combinators alike)."""
    if isinstance(node, Mapping):
        props = node.get("properties")
        if isinstance(props, Mapping):
            for name, sub in props.items():
                if isinstance(sub, Mapping):
                    yield name, sub
        for value in node.values():
            yield from _properties(value)
    elif isinstance(node, list):
        for value in node:
            yield from _properties(value)


def usecase_terms(usecase: UseCase) -> dict[str, dict[str, Any]]:
    """The terms one use case needs: its credential type and its schema's property names."""
    terms: dict[str, dict[str, Any]] = {usecase.credential_type: {}}
    for name, _ in _properties(usecase.schema):
        if name.startswith("@") or name in ("id", "type"):
            raise ConfigurationError(f"{usecase.id}: das Feld {name!r} ist in JSON-LD reserviert")
        terms[name] = {}
    return terms


def build_context(usecases: Iterable[UseCase], reserved: Collection[str]) -> dict[str, Any]:
    """The context document: PROTOCOL_TERMS and every use case's terms, minus the `reserved`
    terms the W3C VC 2.0 context already defines (its ``name``, ``description``, …)."""
    terms: dict[str, dict[str, Any]] = dict(PROTOCOL_TERMS)
    for usecase in sorted(usecases, key=lambda u: u.id):
        for name, definition in usecase_terms(usecase).items():
            if terms.get(name, definition) != definition:
                raise ConfigurationError(f"{usecase.id}: das Feld {name!r} heißt wie ein "
                                         "Bestandteil des govchain-Nachweises")
            terms[name] = definition
    context: dict[str, Any] = {"@version": 1.1, "@protected": True}
    for name in sorted(terms):
        if name in reserved:
            continue
        definition = terms[name]
        context[name] = {"@id": VOCAB + name, **definition} if definition else VOCAB + name
    return {"@context": context}
