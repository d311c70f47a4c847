"""The citizen's wallet format: govchain documents as SD-JWT VCs (IETF) with a Token Status List,
each a view of the Land's ledger like the W3C VC (services.credentials).

- A document's SD-JWT VC (`sd_jwt_vc_for`) is signed ES256 by the municipality's ledger-registered
  key (the same keys as its DID document), issuer ``{base}/municipalities/{ags}``, one disclosure
  per subject field (nested objects and list elements each disclosable), `vct` per use case, and
  ``govchain`` naming the anchored document (targetHash, Merkle root and path, ledger): a
  verifier checks the claims by the signature and the anchor, status and issuer on the ledger.
- Issuer keys (`jwt_vc_issuer_metadata`, /.well-known/jwt-vc-issuer/...) and type metadata
  (`type_metadata`, /vct/{usecase}) are generated from the ledger and the use case folders.
- Status: each document's position in its municipality's status lists (the same random position
  as in the Bitstring Status Lists) in a Token Status List of 2 bits (valid, revoked, suspended),
  made from the ledger's status index and signed (`status_list_token`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.adapters.db.repositories import DocumentRecord
from govchain.domain import data_integrity, did, jose, sd_jwt, status_lists, token_status_list
from govchain.domain.documents import split_proof_set
from govchain.domain.ledger_view import DocumentStatus
from govchain.domain.pointers import escape_token, parse_pointer
from govchain.domain.timefmt import now, parse_time
from govchain.domain.usecases import UseCase
from govchain.domain.usecases.messages import schema_title
from govchain.domain.usecases.schema import _deref
from govchain.errors import ConflictError, InputError, RecordNotFoundError
from govchain.services import credentials

MEDIA_TYPE = "application/dc+sd-jwt"
STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"
STATUS_TOKEN_LIFETIME = timedelta(minutes=5)  # exp of a served status list token
STATUS_TOKEN_TTL = 60  # seconds a relying party may cache it (its `ttl` claim)
# Claims the issuer shows in clear: the registered JWT and SD-JWT VC claims and the anchor.
VISIBLE_CLAIMS = ("iss", "iat", "nbf", "exp", "vct", "cnf", "status", "govchain")
LOCALES = {"de": "de-DE", "en": "en-US"}
DECOYS = 2  # random digests per object: how many fields it has does not show


# -- names ------------------------------------------------------------------------------------

def issuer_id(base_url: str, ags: str) -> str:
    return f"{base_url.rstrip('/')}/municipalities/{ags}"


def ags_of_issuer(iss: object) -> str | None:
    """The AGS of an issuer identifier ``…/municipalities/{ags}``, None for anything else."""
    if not isinstance(iss, str) or not iss.startswith(("https://", "http://")):
        return None
    head, _, ags = iss.rstrip("/").rpartition("/municipalities/")
    return ags if head and len(ags) == 8 and ags.isascii() and ags.isdigit() else None


def vct_of(base_url: str, usecase_id: str) -> str:
    return f"{base_url.rstrip('/')}/vct/{usecase_id}"


def usecase_of_vct(ctx: Context, vct: object) -> UseCase | None:
    """The use case a `vct` names (this service's or another govchain's URL of it)."""
    if not isinstance(vct, str) or "/vct/" not in vct:
        return None
    name = vct.rsplit("/vct/", 1)[1]
    return next((uc for uc in ctx.usecases if uc.id == name), None)


def status_token_url(base_url: str, ags: str, list_no: int) -> str:
    return f"{base_url.rstrip('/')}/status/{ags}/token/{list_no}"


def kid_of(key_id: bytes) -> str:
    return bytes(key_id).hex()


def key_id_of_kid(kid: object) -> bytes:
    if not isinstance(kid, str) or len(kid) != 64:
        raise InputError("kid ist keine Schlüssel-ID des Registers (64 Hexziffern)")
    try:
        return bytes.fromhex(kid)
    except ValueError:
        raise InputError("kid ist keine Schlüssel-ID des Registers (64 Hexziffern)") from None


# -- the credential -----------------------------------------------------------------------------

def _timestamp(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    return int(parse_time(value).timestamp())


def sd_jwt_vc_for(ctx: Context, record: DocumentRecord, *,
                  holder_jwk: Mapping[str, Any] | None = None) -> str:
    """The anchored document as an SD-JWT VC (issuer-signed JWT and its disclosures, ending in
    ``~``), bound to `holder_jwk` (``cnf``) when a wallet proved that key."""
    if record.state != "anchored" or record.document is None:
        raise ConflictError("Das Dokument ist noch nicht verankert; der Nachweis folgt danach")
    document, _ = split_proof_set(record.document)
    position = status_lists.position_of(document)
    if position is None or did.ags_of_did(str(document.get("issuer", {}).get("id"))) != record.ags:
        raise ConflictError("Dieses Dokument wurde vor der Umstellung auf offene Standards "
                            "ausgestellt (ohne Statuslisten); es ist nur als govchain-Dokument "
                            "prüfbar")
    list_no, index = position
    signer = credentials.current_signer(ctx, record.ags)
    proof = document["proof"]
    issuer = document["issuer"]
    claims: dict[str, Any] = {
        "iss": issuer_id(ctx.base_url, record.ags),
        # now (verifiers allow no iat ahead of their clock), not before the key was registered
        "iat": max(int(now().timestamp()), signer.key.added_at),
        "vct": vct_of(ctx.base_url, record.usecase),
        "status": {"status_list": {"idx": index,
                                   "uri": status_token_url(ctx.base_url, record.ags, list_no)}},
        "govchain": {
            "document": document["id"],
            "targetHash": proof["targetHash"],
            "merkleRoot": proof["merkleRoot"],
            "path": list(proof["path"]),
            "chainId": issuer["chainId"],
            "registry": issuer["registry"],
        },
    }
    nbf = _timestamp(document.get("validFrom"))
    if nbf is not None:
        claims["nbf"] = nbf
    exp = _timestamp(document.get("validUntil"))
    if exp is not None:
        claims["exp"] = exp
    if holder_jwk is not None:
        claims["cnf"] = {"jwk": dict(holder_jwk)}
    claims.update(document["credentialSubject"])
    usecase = ctx.usecases.get(record.usecase)
    return sd_jwt.issue(claims, header_extra={"kid": kid_of(signer.key.key_id)},
                        private_key=signer.private_key, always_visible=VISIBLE_CLAIMS,
                        whole=whole_claims(usecase), decoys=DECOYS)


def whole_claims(usecase: UseCase) -> list[tuple[str | int, ...]]:
    """Claims disclosed as one: the fields a holder may never hide in part (usecase.json
    ``neverHidden``: the time windows, the conditions, the chip number …)."""
    return [tuple(parse_pointer(p)) for p in usecase.never_hidden]


# -- metadata -----------------------------------------------------------------------------------

def jwt_vc_issuer_metadata(ctx: Context, ags: str) -> dict[str, Any]:
    """JWT VC Issuer Metadata of a municipality: the ledger's signing keys for it as a JWK set
    (those marked compromised left out, as in its DID document)."""
    municipality = ctx.ledger.municipality(ags)
    if not municipality.admitted:
        raise RecordNotFoundError(f"Keine zugelassene Kommune mit AGS {ags}")
    keys = []
    for key in ctx.ledger.signing_keys_of(ags):
        if key.compromised_since:
            continue
        jwk = jose.public_jwk(data_integrity.public_key_from_bytes(key.public_key))
        keys.append({**jwk, "kid": kid_of(key.key_id), "use": "sig", "alg": "ES256"})
    return {"issuer": issuer_id(ctx.base_url, ags), "jwks": {"keys": keys}}


def _labels(usecase: UseCase) -> dict[str, dict[str, str]]:
    labels: dict[str, dict[str, str]] = {}
    for section in usecase.display.get("sections", []):
        for item in section.get("fields", []):
            if isinstance(item.get("label"), Mapping):
                labels[str(item["path"])] = dict(item["label"])
    return labels


def _claim_paths(root: Mapping[str, Any], node: Mapping[str, Any], path: tuple[str | None, ...],
                 depth: int = 0) -> Iterator[tuple[tuple[str | None, ...], Mapping[str, Any]]]:
    node = _deref(root, node)
    if depth > 12:
        return
    for name, sub in (node.get("properties") or {}).items():
        if not isinstance(sub, Mapping):
            continue
        here = (*path, name)
        yield here, sub
        sub = _deref(root, sub)
        if isinstance(sub.get("items"), Mapping):
            yield from _claim_paths(root, sub["items"], (*here, None), depth + 1)
        else:
            yield from _claim_paths(root, sub, here, depth + 1)


def _pointer(path: tuple[str | None, ...]) -> str:
    return "".join("/" + ("0" if p is None else escape_token(p)) for p in path)


def type_metadata(ctx: Context, usecase_id: str) -> dict[str, Any]:
    """SD-JWT VC Type Metadata of a use case, from its folder: names and description in German
    and English, and every claim with its labels (display.json, else the schema's title)."""
    usecase = ctx.usecases.get(usecase_id)
    labels = _labels(usecase)
    whole = whole_claims(usecase)
    claims = []
    for path, _node in _claim_paths(usecase.schema, usecase.schema, ()):
        # inside a claim disclosed as one, nothing is disclosable on its own
        inside = any(len(path) > len(w) and path[:len(w)] == w for w in whole)
        pointer = "".join("/" + p for p in path if p is not None) if None not in path else None
        label = labels.get(pointer or "") or {}
        title = schema_title(usecase.schema, _pointer(path)) or str(path[-1] or "")
        claims.append({
            "path": list(path),
            "display": [{"locale": LOCALES[lang], "lang": LOCALES[lang],
                         "label": label.get(lang) or title} for lang in ("de", "en")],
            "sd": "never" if inside else "always",
        })
    return {
        "vct": vct_of(ctx.base_url, usecase.id),
        "name": usecase.title["de"],
        "description": usecase.description["de"],
        "display": [{"locale": LOCALES[lang], "lang": LOCALES[lang], "name": usecase.title[lang],
                     "description": usecase.description[lang]} for lang in ("de", "en")],
        "claims": claims,
    }


# -- Token Status List ----------------------------------------------------------------------

@dataclass(frozen=True)
class StatusToken:
    token: str
    etag: str
    expires_at: datetime


# (base URL, AGS, list number) → (the AGS's version in the status index, token)
_cache: dict[tuple[str, str, int], tuple[tuple[int, int], StatusToken]] = {}
_cache_lock = threading.Lock()

_CODES = {DocumentStatus.REVOKED: token_status_list.INVALID,
          DocumentStatus.SUSPENDED: token_status_list.SUSPENDED}


def status_list_token(ctx: Context, uow: UnitOfWork, ags: str, list_no: int) -> StatusToken:
    """The signed Token Status List `list_no` of `ags`: 2 bits per position, 1 where the ledger's
    status index says revoked, 2 where suspended. Made anew when a status or signing key of the
    municipality changed, or when less than a minute of its validity is left."""
    if list_no < 0 or list_no * status_lists.LIST_SIZE >= uow.status_lists.allocated(ags):
        raise RecordNotFoundError(f"Keine Statusliste {list_no} der Kommune {ags}")
    version, changes = credentials.status_changes(ctx, ags)
    cache_key = (ctx.base_url, ags, list_no)
    at = now()
    with _cache_lock:
        cached = _cache.get(cache_key)
    if (cached is not None and cached[0] == version
            and cached[1].expires_at - at > credentials.STATUS_LIST_RENEW):
        return cached[1]
    signer = credentials.current_signer(ctx, ags)
    wanted = {leaf: status for leaf, status in changes.items() if status in _CODES}
    positions = uow.documents.status_positions(ags, list_no, list(wanted))
    statuses = {index: _CODES[wanted[leaf]] for leaf, index in positions.items()}
    packed = token_status_list.pack(statuses, status_lists.LIST_SIZE, token_status_list.BITS)
    expires = at + STATUS_TOKEN_LIFETIME
    payload = {
        "sub": status_token_url(ctx.base_url, ags, list_no),
        "iss": issuer_id(ctx.base_url, ags),
        "iat": int(at.timestamp()),
        "exp": int(expires.timestamp()),
        "ttl": STATUS_TOKEN_TTL,
        "status_list": token_status_list.status_list_claim(packed, token_status_list.BITS),
    }
    token = jose.sign_jwt({"alg": "ES256", "typ": "statuslist+jwt",
                           "kid": kid_of(signer.key.key_id)}, payload, signer.private_key)
    found = StatusToken(token, '"' + hashlib.sha256(token.encode()).hexdigest()[:32] + '"',
                        expires)
    with _cache_lock:
        _cache[cache_key] = (version, found)
    return found
