"""OpenID for Verifiable Credentials: a document into the citizen's wallet (OpenID4VCI 1.0,
pre-authorized code flow) and a checker's request for it (OpenID4VP 1.0, DCQL, direct_post).

Issuance. A clerk (or the landlord who submitted a Wohnungsgeberbestätigung) makes an offer for an
anchored document (`create_offer`): a credential offer with a pre-authorized code, shown as a QR
code, and a 6-digit transaction code (PIN) shown beside it. The wallet trades code and PIN for an
access token (`redeem_code`: once; a wrong PIN is counted and locks the offer after
MAX_PIN_ATTEMPTS), fetches a nonce (`new_nonce`) and asks for the credential with a proof of its
key (`issue_credential`: an ``openid4vci-proof+jwt`` over that nonce), which it gets as an SD-JWT
VC bound to that key (``cnf``) — once per offer. Offers expire after OFFER_LIFETIME.

Presentation. A checker opens a request for a document type (`create_request`): a DCQL query for
only the claims its display.json names for checkers, a fresh nonce, the answer to be posted to
``/oid4vp/response/{id}``. The wallet's answer (`receive_response`) is taken once: the SD-JWT VC's
signature against the ledger's keys, the disclosures, the key binding (audience = this request,
its nonce, fresh), then the ledger's checks of the anchored document (anchoring, issuer, status,
validity). The result, with the disclosed claims, is kept until the request expires and shown to
the checker (`result_of`).

Errors are OAuthError with the protocol's error codes; nothing here answers with a 500 for bad
input.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives.asymmetric import ec

from govchain.adapters import metrics
from govchain.adapters.context import Context
from govchain.adapters.db import DocumentRecord, UnitOfWork
from govchain.domain import data_integrity, jose, sd_jwt, status_lists
from govchain.domain.documents import split_proof_set
from govchain.domain.hashing import from_hex32
from govchain.domain.ledger_view import signing_key_usable_at
from govchain.domain.pointers import parse_pointer
from govchain.domain.strictjson import loads as strict_loads
from govchain.domain.timefmt import de, now
from govchain.domain.usecases import UseCase
from govchain.domain.verification import (
    SignedClaims,
    VerificationResult,
    refused,
    unverifiable,
    verify_signed_claims,
)
from govchain.errors import (
    ConflictError,
    InputError,
    LedgerUnavailableError,
    OAuthError,
    RecordNotFoundError,
    UnknownUseCaseError,
)
from govchain.services import audit, sd_jwt_vc
from govchain.services.audit import AuditAction, Who
from govchain.services.people import Actor, get_document_for

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYP = "openid4vci-proof+jwt"
OFFER_LIFETIME = timedelta(minutes=10)
TOKEN_LIFETIME = timedelta(minutes=5)
NONCE_LIFETIME = timedelta(minutes=5)
REQUEST_LIFETIME = timedelta(minutes=10)
PROOF_MAX_AGE = 300  # seconds: a key proof's or key binding's iat
MAX_PIN_ATTEMPTS = 5
PIN_DIGITS = 6
MAX_JWT = 16_384  # characters of a proof JWT
MAX_PRESENTATION = 65_536  # characters of a vp_token
QUERY_ID = "govchain"  # the one credential query of a presentation request
_NONCE_INFO = b"govchain openid4vci c_nonce v1"


def _lookup(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _pin_hash(code: str, pin: str) -> str:
    # keyed by the pre-authorized code: the database alone cannot test the 10^6 PINs
    return hmac.new(code.encode(), pin.encode(), hashlib.sha256).hexdigest()


# -- metadata ---------------------------------------------------------------------------------

def issuer_metadata(ctx: Context) -> dict[str, Any]:
    """Credential Issuer Metadata (/.well-known/openid-credential-issuer): one SD-JWT VC
    configuration per use case, named by its id."""
    base = ctx.base_url
    configurations = {}
    for usecase in sorted(ctx.usecases, key=lambda u: u.id):
        display = [{"name": usecase.title[lang], "locale": sd_jwt_vc.LOCALES[lang],
                    "description": usecase.description[lang]} for lang in ("de", "en")]
        configurations[usecase.id] = {
            "format": "dc+sd-jwt",
            "vct": sd_jwt_vc.vct_of(base, usecase.id),
            "scope": usecase.id,
            "cryptographic_binding_methods_supported": ["jwk"],
            "credential_signing_alg_values_supported": ["ES256"],
            "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}},
            "display": display,
            "credential_metadata": {"display": display},
        }
    return {
        "credential_issuer": base,
        "credential_endpoint": f"{base}/oid4vci/credential",
        "nonce_endpoint": f"{base}/oid4vci/nonce",
        "display": [{"name": "govchain NRW – Nachweise der Kommunen", "locale": "de-DE"},
                    {"name": "govchain NRW – municipal documents", "locale": "en-US"}],
        "credential_configurations_supported": configurations,
    }


def authorization_server_metadata(ctx: Context) -> dict[str, Any]:
    """OAuth 2.0 Authorization Server Metadata: the issuer is its own authorization server for
    the pre-authorized code grant, anonymous (the code is the authorization)."""
    base = ctx.base_url
    return {
        "issuer": base,
        "token_endpoint": f"{base}/oid4vci/token",
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "pre-authorized_grant_anonymous_access_supported": True,
        "response_types_supported": [],
    }


# -- offers ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CreatedOffer:
    """A new credential offer; code and PIN are shown once and never stored."""

    id: str
    document_id: str
    uri: str  # openid-credential-offer://?credential_offer=…
    pin: str
    expires_at: datetime


def offer_refusal(record: DocumentRecord) -> str | None:
    """Why the document cannot be offered to a wallet, or None when it can (the pages offer the
    action only then)."""
    if record.state != "anchored" or record.document is None:
        return "Das Dokument ist noch nicht verankert; die Wallet-Übernahme folgt danach"
    if status_lists.position_of(split_proof_set(record.document)[0]) is None:
        return ("Dieses Dokument wurde vor der Umstellung auf offene Standards ausgestellt (ohne "
                "Statuslisten) und kann nicht in eine Wallet")
    if record.ledger_status == "revoked":
        return "Ein widerrufenes Dokument kann nicht in eine Wallet übernommen werden"
    return None


def create_offer(ctx: Context, uow: UnitOfWork, actor: Actor, document_id: str, *,
                 lifetime: timedelta = OFFER_LIFETIME) -> CreatedOffer:
    """Offers an anchored document to the holder's wallet (clerks of its municipality, or the
    landlord who submitted it)."""
    record = get_document_for(uow, actor, document_id)
    refusal = offer_refusal(record)
    if refusal is not None:
        raise ConflictError(refusal)
    if not timedelta(minutes=1) <= lifetime <= timedelta(days=1):
        raise InputError("Ein Angebot gilt zwischen einer Minute und einem Tag")
    code = secrets.token_urlsafe(32)
    pin = f"{secrets.randbelow(10 ** PIN_DIGITS):0{PIN_DIGITS}d}"
    at = now()
    offer = uow.wallet.add_offer(offer_id=uuid.uuid4().hex, document_id=record.id,
                                 code_lookup=_lookup(code), pin_hash=_pin_hash(code, pin),
                                 expires_at=at + lifetime, created_by=actor.user_id, at=at)
    body = {
        "credential_issuer": ctx.base_url,
        "credential_configuration_ids": [record.usecase],
        "grants": {PRE_AUTHORIZED_GRANT: {
            "pre-authorized_code": code,
            "tx_code": {"input_mode": "numeric", "length": PIN_DIGITS,
                        "description": "PIN vom Amt (wird neben dem QR-Code angezeigt)"},
        }},
    }
    uri = "openid-credential-offer://?credential_offer=" + quote(
        json.dumps(body, separators=(",", ":")), safe="")
    audit.record(uow, actor.who, AuditAction.WALLET_OFFER, record.id,
                 {"offer": offer.id, "expiresAt": offer.expires_at.isoformat()})
    return CreatedOffer(offer.id, record.id, uri, pin, offer.expires_at)


def redeem_code(uow: UnitOfWork, form: Mapping[str, str], *, at: datetime | None = None
                ) -> dict[str, Any]:
    """The token endpoint: pre-authorized code and PIN for an access token. A wrong PIN is
    counted and committed before the refusal; the offer locks after MAX_PIN_ATTEMPTS."""
    at = at or now()
    if form.get("grant_type") != PRE_AUTHORIZED_GRANT:
        raise OAuthError("unsupported_grant_type",
                         "Nur der Pre-Authorized-Code-Ablauf wird unterstützt")
    code = form.get("pre-authorized_code") or ""
    if not code or len(code) > 128:
        raise OAuthError("invalid_request", "pre-authorized_code fehlt")
    offer = uow.wallet.offer_by_code(_lookup(code))
    if offer is None:
        raise OAuthError("invalid_grant", "Unbekannter Code")
    if offer.state == "locked":
        raise OAuthError("invalid_grant", "Das Angebot ist nach zu vielen falschen PINs gesperrt; "
                         "bitte beim Amt ein neues Angebot erstellen lassen")
    if offer.state != "offered":
        raise OAuthError("invalid_grant", "Dieser Code wurde bereits eingelöst")
    if at >= offer.expires_at:
        raise OAuthError("invalid_grant", f"Das Angebot ist am {de(offer.expires_at)} abgelaufen")
    pin = form.get("tx_code")
    if not pin:
        raise OAuthError("invalid_request", "Die PIN (tx_code) fehlt")
    if not hmac.compare_digest(_pin_hash(code, pin[:32]), offer.pin_hash):
        count = uow.wallet.count_failed_pin(offer.id, MAX_PIN_ATTEMPTS)
        uow.commit()
        left = MAX_PIN_ATTEMPTS - count
        raise OAuthError("invalid_grant", "Falsche PIN; " + (
            f"noch {left} Versuch(e)" if left > 0 else "das Angebot ist jetzt gesperrt"))
    token = secrets.token_urlsafe(32)
    if not uow.wallet.grant_token(offer.id, _lookup(token), at + TOKEN_LIFETIME):
        raise OAuthError("invalid_grant", "Dieser Code wurde bereits eingelöst")
    return {"access_token": token, "token_type": "Bearer",
            "expires_in": int(TOKEN_LIFETIME.total_seconds())}


def _nonce_key(token_key: bytes) -> bytes:
    return hmac.new(token_key, _NONCE_INFO, hashlib.sha256).digest()


def new_nonce(token_key: bytes, *, at: float | None = None) -> str:
    """A c_nonce: its expiry, 16 random bytes and a MAC over both (no state to keep; the
    credential endpoint takes one credential per offer, so a nonce cannot buy two)."""
    expires = int((at if at is not None else time.time()) + NONCE_LIFETIME.total_seconds())
    body = expires.to_bytes(8, "big") + secrets.token_bytes(16)
    mac = hmac.new(_nonce_key(token_key), body, hashlib.sha256).digest()[:16]
    return jose.b64url_encode(body + mac)


def _nonce_fresh(token_key: bytes, nonce: object, at: float) -> bool:
    if not isinstance(nonce, str) or len(nonce) > 64:
        return False
    try:
        raw = jose.b64url_decode(nonce, "c_nonce")
    except InputError:
        return False
    if len(raw) != 40:
        return False
    body, mac = raw[:24], raw[24:]
    good = hmac.compare_digest(hmac.new(_nonce_key(token_key), body, hashlib.sha256)
                               .digest()[:16], mac)
    return good and int.from_bytes(body[:8], "big") > at


def _key_proof(ctx: Context, body: Mapping[str, Any], token_key: bytes, at: float
               ) -> dict[str, Any]:
    """The holder's public JWK from the request's key proof (exactly one JWT proof)."""
    proofs = body.get("proofs")
    if proofs is None and isinstance(body.get("proof"), Mapping):  # drafts before 1.0
        single = body["proof"]
        if single.get("proof_type") != "jwt":
            raise OAuthError("invalid_proof", "Nur Schlüsselnachweise der Art jwt")
        proofs = {"jwt": [single.get("jwt")]}
    if not isinstance(proofs, Mapping) or set(proofs) != {"jwt"}:
        raise OAuthError("invalid_proof", "Genau ein Schlüsselnachweis (proofs.jwt) erwartet")
    jwts = proofs["jwt"]
    if not isinstance(jwts, list) or len(jwts) != 1 or not isinstance(jwts[0], str):
        raise OAuthError("invalid_proof", "Genau ein Schlüsselnachweis (proofs.jwt) erwartet")
    try:
        proof = jose.decode_jwt(jwts[0], max_length=MAX_JWT)
        if proof.header.get("typ") != PROOF_TYP:
            raise InputError(f"typ muss {PROOF_TYP} sein")
        if "kid" in proof.header or "x5c" in proof.header:
            raise InputError("der Schlüssel gehört als jwk in den Kopf (kid und x5c "
                             "werden nicht unterstützt)")
        jwk = proof.header.get("jwk")
        key = jose.public_key_from_jwk(jwk)
        jose.verify_jws(proof, key)
    except InputError as err:
        raise OAuthError("invalid_proof", f"Schlüsselnachweis ungültig: {err}") from None
    payload = proof.payload
    if payload.get("aud") != ctx.base_url:
        raise OAuthError("invalid_proof", f"Schlüsselnachweis: aud muss {ctx.base_url} sein")
    iat = payload.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool) or not (
            at - PROOF_MAX_AGE <= iat <= at + 60):
        raise OAuthError("invalid_proof", "Schlüsselnachweis: iat fehlt oder ist nicht aktuell")
    if not _nonce_fresh(token_key, payload.get("nonce"), at):
        raise OAuthError("invalid_nonce", "Schlüsselnachweis: c_nonce fehlt, ist unbekannt oder "
                         "abgelaufen; bitte eine neue vom Nonce-Endpunkt holen")
    assert isinstance(jwk, Mapping)
    return {k: jwk[k] for k in ("kty", "crv", "x", "y")}


def issue_credential(ctx: Context, uow: UnitOfWork, access_token: str | None,
                     body: Mapping[str, Any], token_key: bytes, *, address: str | None = None,
                     at: datetime | None = None) -> dict[str, Any]:
    """The credential endpoint: the offer's document as an SD-JWT VC bound to the key the
    wallet proved; once per offer, recorded in the audit log."""
    at = at or now()
    if not access_token or len(access_token) > 128:
        raise OAuthError("invalid_token", "Zugriffstoken fehlt", 401)
    offer = uow.wallet.offer_by_token(_lookup(access_token))
    if offer is None or offer.state not in ("token", "issued"):
        raise OAuthError("invalid_token", "Unbekanntes oder zurückgezogenes Zugriffstoken", 401)
    if offer.state == "issued":
        raise OAuthError("invalid_token", "Mit diesem Zugriffstoken wurde der Nachweis bereits "
                         "ausgegeben", 401)
    if offer.token_expires_at is None or at >= offer.token_expires_at:
        raise OAuthError("invalid_token", "Das Zugriffstoken ist abgelaufen", 401)
    record = uow.documents.get(offer.document_id)
    if record is None:
        raise OAuthError("invalid_token", "Das Dokument gibt es nicht mehr", 401)
    if record.ledger_status == "revoked":
        raise OAuthError("credential_request_denied", "Das Dokument wurde widerrufen")
    config = body.get("credential_configuration_id")
    if config is None and body.get("format") is None and "credential_identifier" not in body:
        raise OAuthError("invalid_credential_request", "credential_configuration_id fehlt")
    if config is not None and config != record.usecase:
        raise OAuthError("unknown_credential_configuration",
                         f"Dieses Angebot gilt für {record.usecase!r}, nicht für {config!r}")
    holder = _key_proof(ctx, body, token_key, at.timestamp())
    try:
        credential = sd_jwt_vc.sd_jwt_vc_for(ctx, record, holder_jwk=holder)
    except ConflictError as err:
        raise OAuthError("credential_request_denied", str(err)) from None
    thumbprint = jose.jwk_thumbprint(holder)
    if not uow.wallet.mark_issued(offer.id, thumbprint, at):
        raise OAuthError("invalid_token", "Mit diesem Zugriffstoken wurde der Nachweis bereits "
                         "ausgegeben", 401)
    audit.record(uow, Who("wallet", "anonymous", address), AuditAction.WALLET_ISSUE, record.id,
                 {"offer": offer.id, "format": "dc+sd-jwt"})
    return {"credentials": [{"credential": credential}]}


# -- presentation requests -------------------------------------------------------------------

@dataclass(frozen=True)
class CreatedRequest:
    id: str
    usecase: str
    uri: str  # openid4vp://?… for a wallet on another device (QR) or this one (link)
    expires_at: datetime


def claim_paths(usecase: UseCase) -> list[list[str]]:
    """The DCQL claim paths a checker asks for: display.json ``checker`` (else ``highlight``)."""
    pointers = usecase.display.get("checker") or usecase.display.get("highlight") or []
    return [parse_pointer(p) for p in pointers]


def dcql_query(ctx: Context, usecase: UseCase) -> dict[str, Any]:
    return {"credentials": [{
        "id": QUERY_ID,
        "format": "dc+sd-jwt",
        "meta": {"vct_values": [sd_jwt_vc.vct_of(ctx.base_url, usecase.id)]},
        "claims": [{"path": path} for path in claim_paths(usecase)],
    }]}


def response_uri(ctx: Context, request_id: str) -> str:
    return f"{ctx.base_url}/oid4vp/response/{request_id}"


def client_id_of(ctx: Context, request_id: str) -> str:
    return "redirect_uri:" + response_uri(ctx, request_id)


def create_request(ctx: Context, uow: UnitOfWork, usecase_id: str) -> CreatedRequest:
    """A presentation request for a document type; the state is handed to the wallet only."""
    try:
        usecase = ctx.usecases.get(usecase_id)
    except UnknownUseCaseError as err:
        raise InputError(str(err)) from None
    at = now()
    uow.wallet.purge_requests(at)
    request_id = uuid.uuid4().hex
    nonce = secrets.token_urlsafe(24)
    state = secrets.token_urlsafe(24)
    record = uow.wallet.add_request(request_id=request_id, usecase=usecase.id, nonce=nonce,
                                    state_lookup=_lookup(state), expires_at=at + REQUEST_LIFETIME,
                                    at=at)
    params = {
        "client_id": client_id_of(ctx, request_id),
        "response_type": "vp_token",
        "response_mode": "direct_post",
        "response_uri": response_uri(ctx, request_id),
        "nonce": nonce,
        "state": state,
        "dcql_query": json.dumps(dcql_query(ctx, usecase), separators=(",", ":")),
        "client_metadata": json.dumps({"vp_formats_supported": {"dc+sd-jwt": {
            "sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}}},
            separators=(",", ":")),
    }
    uri = "openid4vp://?" + urlencode(params, quote_via=quote)
    return CreatedRequest(record.id, usecase.id, uri, record.expires_at)


@dataclass(frozen=True)
class PresentationResult:
    request_id: str
    usecase: str
    answered: bool
    expires_at: datetime
    result: dict[str, Any] | None  # VerificationResult.to_json() plus "claims", "error"


def result_of(uow: UnitOfWork, request_id: str) -> PresentationResult:
    record = uow.wallet.request(request_id)
    if record is None or record.expires_at <= now():
        raise RecordNotFoundError("Diese Anfrage gibt es nicht (mehr); bitte eine neue stellen")
    return PresentationResult(record.id, record.usecase, record.answered_at is not None,
                              record.expires_at, record.result)


def _issuer_key(ctx: Context, found: dict[str, Any]) -> Any:
    def resolve(header: Mapping[str, Any], payload: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
        ags = sd_jwt_vc.ags_of_issuer(payload.get("iss"))
        if ags is None:
            raise InputError("iss ist keine Kommune (…/municipalities/AGS)")
        key = ctx.reader.signing_key(sd_jwt_vc.key_id_of_kid(header.get("kid")))
        if key.ags != ags:
            raise InputError("der Schlüssel ist im Register nicht für diese Kommune eingetragen"
                             if key.ags else "der Schlüssel ist im Register unbekannt")
        iat = payload.get("iat")
        if not isinstance(iat, int) or isinstance(iat, bool):
            raise InputError("iat fehlt")
        why = signing_key_usable_at(key, iat)
        if why:
            raise InputError(why)
        found["ags"] = ags
        return data_integrity.public_key_from_bytes(key.public_key)
    return resolve


def _missing_claims(claims: Mapping[str, Any], paths: list[list[str]]) -> list[str]:
    missing = []
    for path in paths:
        node: Any = claims
        for name in path:
            if not isinstance(node, Mapping) or name not in node:
                missing.append("/" + "/".join(path))
                break
            node = node[name]
    return missing


def _check(ctx: Context, record: Any, vp_token: str, at: datetime
           ) -> tuple[VerificationResult, dict[str, Any]]:
    """The verification result of a wallet's vp_token and the claims it disclosed."""
    try:
        tokens = strict_loads(vp_token)
    except InputError as err:
        raise OAuthError("invalid_request", f"vp_token ist kein JSON: {err}") from None
    if (not isinstance(tokens, dict) or set(tokens) != {QUERY_ID}
            or not isinstance(tokens[QUERY_ID], list) or len(tokens[QUERY_ID]) != 1
            or not isinstance(tokens[QUERY_ID][0], str)):
        raise OAuthError("invalid_request",
                         f"vp_token muss genau eine Präsentation für {QUERY_ID!r} enthalten")
    usecase = ctx.usecases.get(record.usecase)
    found: dict[str, Any] = {}
    try:
        verified = sd_jwt.verify(
            tokens[QUERY_ID][0], issuer_key=_issuer_key(ctx, found), require_key_binding=True,
            audience=client_id_of(ctx, record.id), nonce=record.nonce, now=int(at.timestamp()),
            max_kb_age=PROOF_MAX_AGE, max_length=MAX_PRESENTATION)
    except LedgerUnavailableError as err:
        return unverifiable({}, str(err), at), {}
    except InputError as err:
        return _refused(f"Der Nachweis aus der Wallet ist ungültig: {err}", at,
                        "wallet.invalid", error=str(err)), {}
    payload = verified.payload
    if sd_jwt_vc.usecase_of_vct(ctx, payload.get("vct")) is not usecase:
        return _refused(f"Die Wallet zeigte einen anderen Nachweis (vct {payload.get('vct')!r}) "
                        f"als angefragt („{usecase.title['de']}“).", at, "wallet.other_usecase",
                        vct=payload.get("vct"), usecase=dict(usecase.title)), {}
    claims = {k: v for k, v in verified.claims.items() if k not in sd_jwt_vc.VISIBLE_CLAIMS}
    missing = _missing_claims(claims, claim_paths(usecase))
    if missing:
        return _refused("Die Wallet hat nicht alle angefragten Angaben gezeigt (fehlen: "
                        + ", ".join(missing) + ").", at, "wallet.missing_claims",
                        missing=", ".join(missing)), claims
    ref = payload.get("govchain")
    try:
        if not isinstance(ref, Mapping) or not isinstance(ref.get("path"), list):
            raise InputError("govchain-Verweis fehlt")
        signed = SignedClaims(
            claims=claims, usecase_id=usecase.id, issuer_ags=found["ags"],
            signed_at=int(payload["iat"]), valid_from=_int_or_none(payload.get("nbf")),
            valid_until=_int_or_none(payload.get("exp")),
            target_hash=from_hex32(ref.get("targetHash")),
            merkle_root=from_hex32(ref.get("merkleRoot")),
            path=tuple(from_hex32(p) for p in ref["path"]),
            chain_id=ref.get("chainId"), registry=ref.get("registry"))
    except (InputError, ValueError) as err:
        return _refused(f"Der Verweis auf das verankerte Dokument ist unlesbar: {err}", at,
                        "wallet.bad_reference", error=str(err)), claims
    try:
        reader = ctx.reader
    except LedgerUnavailableError as err:
        return unverifiable({}, str(err), at), claims
    return verify_signed_claims(signed, ledger=reader, usecases=ctx.usecases, at=at), claims


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _refused(message: str, at: datetime, code: str, **params: Any) -> VerificationResult:
    return refused("integrity", message, at, code=code, params=params)


def receive_response(ctx: Context, uow: UnitOfWork, request_id: str, form: Mapping[str, str]
                     ) -> dict[str, Any]:
    """The wallet's direct_post: verified and stored once; what the wallet gets back."""
    at = now()
    record = uow.wallet.request(request_id)
    if record is None or record.expires_at <= at:
        raise OAuthError("invalid_request", "Unbekannte oder abgelaufene Anfrage", 400)
    state = form.get("state") or ""
    if not hmac.compare_digest(_lookup(state), record.state_lookup):
        raise OAuthError("invalid_request", "state passt nicht zu dieser Anfrage")
    if record.answered_at is not None:
        raise OAuthError("invalid_request", "Diese Anfrage wurde bereits beantwortet")
    if "error" in form:
        stored: dict[str, Any] = {"error": str(form.get("error"))[:100],
                                  "error_description": str(form.get("error_description", ""))[:500]}
    else:
        vp_token = form.get("vp_token")
        if not vp_token:
            raise OAuthError("invalid_request", "vp_token fehlt")
        result, claims = _check(ctx, record, vp_token, at)
        metrics.verification(result.status)
        stored = {**result.to_json(), "claims": claims}
    if not uow.wallet.answer(record.id, stored, at):
        raise OAuthError("invalid_request", "Diese Anfrage wurde bereits beantwortet")
    return {"redirect_uri": f"{ctx.base_url}/verify/wallet/{record.id}"}
