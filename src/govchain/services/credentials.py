"""Open standards: govchain documents as W3C Verifiable Credentials, municipalities as DIDs, status
as Bitstring Status Lists — each a view of the Land's ledger.

- The JSON-LD context (`jsonld_context`) is generated from the use cases and served at
  /credentials/v1; documents name `ctx.context_url`.
- A municipality's DID document (`did_document_for`) lists the P-256 keys the ledger registered
  for it (IssuerRegistry.signingKeysOf), minus those marked compromised.
- A document's W3C VC (`credential_for`) is the issued document with a proof set: its Merkle
  proof and a Data Integrity proof (ecdsa-rdfc-2019), signed with the municipality's current
  key when first asked for and then kept (RDF canonicalization costs milliseconds; bulk
  issuance does not pay it).
- Status list positions are reserved at issuance (`status_entries`); a status list credential
  (`status_list_credential`) sets the bits the ledger's status index says, is signed, and is
  kept until the ledger changes for its municipality or it is about to expire.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.adapters.db.repositories import DocumentRecord
from govchain.domain import data_integrity, did, status_lists
from govchain.domain.documents import GOVCHAIN_CONTEXT, VC_CONTEXT, split_proof_set
from govchain.domain.jsonld_context import build_context
from govchain.domain.ledger_view import AccountState, DocumentStatus, SigningKey
from govchain.domain.timefmt import from_unix, now
from govchain.domain.usecases import UseCaseRegistry
from govchain.errors import ConflictError, RecordNotFoundError

STATUS_LIST_LIFETIME = timedelta(minutes=5)  # validUntil of a served status list credential
STATUS_LIST_RENEW = timedelta(minutes=1)  # re-signed when less than this is left


# -- the JSON-LD context --------------------------------------------------------------------

@lru_cache(maxsize=8)
def _context_of(usecases: UseCaseRegistry) -> dict[str, Any]:
    vc = data_integrity.bundled_context(VC_CONTEXT)
    reserved = {k for k in vc["@context"] if not k.startswith("@")}
    return build_context(usecases, reserved)


def jsonld_context(ctx: Context) -> dict[str, Any]:
    """govchain's context document: every term its documents write (domain.jsonld_context)."""
    return _context_of(ctx.usecases)


def document_loader(ctx: Context) -> Callable[..., Any]:
    """A JSON-LD document loader that knows the W3C contexts govchain uses and its own context,
    under the URL new documents name and the one documents named before it was served (one
    per context URL and use cases: it caches the processed contexts)."""
    return _loader(ctx.context_url, ctx.usecases)


@lru_cache(maxsize=8)
def _loader(context_url: str, usecases: UseCaseRegistry) -> data_integrity.ContextLoader:
    ours = _context_of(usecases)
    return data_integrity.document_loader({context_url: ours, GOVCHAIN_CONTEXT: ours})


# -- DIDs and signing keys --------------------------------------------------------------------

def did_of(ctx: Context, ags: str) -> str:
    return did.municipality_did(ctx.base_url, ags)


def did_document_for(ctx: Context, ags: str) -> dict[str, Any]:
    """The DID document of an admitted municipality: the keys the ledger lists for it, those
    marked compromised left out (a verifier that knows no dates must not trust them at all;
    govchain's own verification judges each proof by its time)."""
    municipality = ctx.ledger.municipality(ags)
    if not municipality.admitted:
        raise RecordNotFoundError(f"Keine zugelassene Kommune mit AGS {ags}")
    keys = [(k.key_id, data_integrity.public_key_multibase(
        data_integrity.public_key_from_bytes(k.public_key)))
        for k in ctx.ledger.signing_keys_of(ags) if not k.compromised_since]
    return did.did_document(did_of(ctx, ags), keys)


@dataclass(frozen=True)
class Signer:
    key: SigningKey
    method: str  # the verification method URL
    private_key: Any  # ec.EllipticCurvePrivateKey, never logged


def current_signer(ctx: Context, ags: str) -> Signer:
    """The municipality's newest usable signing key whose private key this service holds."""
    for key in reversed(ctx.ledger.signing_keys_of(ags)):
        if (key.state is AccountState.ACTIVE and not key.compromised_since
                and ctx.keys.has_signing_key(key.key_id)):
            return Signer(key, did.method_id(did_of(ctx, ags), key.key_id),
                          ctx.keys.unlock_signing_key(key.key_id))
    raise ConflictError(f"Für die Kommune {ags} ist hier kein gültiger Signaturschlüssel "
                        "(im Register eingetragen, nicht stillgelegt) vorhanden; die Landesbehörde "
                        "trägt ihn mit `govchain registry signing-key add` ein")


# -- status list positions at issuance ------------------------------------------------------

def status_entries(ctx: Context, uow: UnitOfWork, ags: str, count: int
                   ) -> list[list[dict[str, Any]]]:
    """Reserves `count` positions of `ags` (adapters.db.repositories.status_lists: without
    waiting on other issuing transactions) and returns each one's two BitstringStatusListEntry
    items. Call it before the unit of work writes anything (SQLite: one writer)."""
    key, counters = uow.status_lists.reserve(ags, count)
    return [status_lists.entries(ctx.base_url, ags, list_no, index)
            for list_no, index in status_lists.positions(key, ags, counters)]


# -- the VC with a Data Integrity proof -----------------------------------------------------

def credential_for(ctx: Context, uow: UnitOfWork, record: DocumentRecord) -> dict[str, Any]:
    """The document as a W3C VC with a proof set: its Merkle proof and a Data Integrity proof,
    made now if the document has none yet and kept (the caller commits)."""
    if record.state != "anchored" or record.document is None:
        raise ConflictError("Das Dokument ist noch nicht verankert; der Nachweis folgt danach")
    document, _ = split_proof_set(record.document)
    if not status_lists.entries_of(document) or did.ags_of_did(
            str(document.get("issuer", {}).get("id"))) != record.ags:
        raise ConflictError("Dieses Dokument wurde vor der Umstellung auf offene Standards "
                            "ausgestellt (ohne DID und Statuslisten); es ist nur als "
                            "govchain-Dokument prüfbar")
    proof = uow.documents.di_proof_of(record.id)
    if proof is None:
        signer = current_signer(ctx, record.ags)
        unsigned = {k: v for k, v in document.items() if k != "proof"}
        proof = data_integrity.create_proof(
            unsigned, private_key=signer.private_key, verification_method=signer.method,
            created=signing_time(ctx, signer), loader=document_loader(ctx))
        uow.documents.set_di_proof(record.id, proof)
    return {**document, "proof": [document["proof"], proof]}


def signing_time(ctx: Context, signer: Signer) -> datetime:
    """Now by the ledger's clock, against which the key's registration, retirement and
    compromise are judged: the later of the wall clock and the newest block's time (a
    development chain's clock may run ahead of the wall clock; demos and drills jump it)."""
    return max(now(), from_unix(ctx.chain.latest_block().timestamp),
               from_unix(signer.key.added_at))


# -- status list credentials ------------------------------------------------------------------

@dataclass(frozen=True)
class StatusListBody:
    body: bytes  # the signed credential, JSON
    etag: str
    valid_until: datetime


# (base URL, AGS, purpose, list number) → (the AGS's version in the status index, credential)
_cache: dict[tuple[str, str, str, int], tuple[tuple[int, int], StatusListBody]] = {}
_cache_lock = threading.Lock()


def status_changes(ctx: Context, ags: str
                    ) -> tuple[tuple[int, int], dict[bytes, DocumentStatus]]:
    indexed = ctx.indexed if ctx.indexed is not None else ctx.use_index()
    indexed.index.sync()  # LedgerUnavailableError rather than a list behind the chain
    return indexed.index.status_changes(ags)


def status_list_credential(ctx: Context, uow: UnitOfWork, ags: str, list_name: str
                           ) -> StatusListBody:
    """The signed BitstringStatusListCredential `list_name` (e.g. ``revocation-0``) of `ags`:
    a bit set for each document of the list the ledger's status index says is revoked
    (resp. suspended). Made anew when a status or a signing key of the municipality changed on
    the ledger, or when less than STATUS_LIST_RENEW of its validity is left."""
    purpose, list_no = status_lists.parse_list_id(list_name)
    if list_no * status_lists.LIST_SIZE >= uow.status_lists.allocated(ags):
        raise RecordNotFoundError(f"Keine Statusliste {list_name} der Kommune {ags}")
    version, changes = status_changes(ctx, ags)
    cache_key = (ctx.base_url, ags, purpose, list_no)
    at = now()
    with _cache_lock:
        cached = _cache.get(cache_key)
    if (cached is not None and cached[0] == version
            and cached[1].valid_until - at > STATUS_LIST_RENEW):
        return cached[1]
    signer = current_signer(ctx, ags)
    wanted = DocumentStatus.REVOKED if purpose == "revocation" else DocumentStatus.SUSPENDED
    leaves = [leaf for leaf, status in changes.items() if status is wanted]
    positions = uow.documents.status_positions(ags, list_no, leaves)
    bits = bytearray(status_lists.LIST_SIZE // 8)
    for index in positions.values():
        data_integrity.set_bit(bits, index)
    url = status_lists.list_url(ctx.base_url, ags, purpose, list_no)
    valid_until = at + STATUS_LIST_LIFETIME
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": did_of(ctx, ags),
        "validFrom": data_integrity.xsd_datetime(at),
        "validUntil": data_integrity.xsd_datetime(valid_until),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": data_integrity.encode_status_list(bytes(bits)),
        },
    }
    credential["proof"] = data_integrity.create_proof(
        credential, private_key=signer.private_key, verification_method=signer.method,
        created=signing_time(ctx, signer), loader=document_loader(ctx))
    body = json.dumps(credential, ensure_ascii=False, separators=(",", ":")).encode()
    result = StatusListBody(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                            valid_until)
    with _cache_lock:
        _cache[cache_key] = (version, result)
    return result


