"""The service layer: what the registrar, clerks and verifiers can do, for every entrypoint.

The CLI (and later the HTTP API and the web pages) call these functions and nothing below them, so
every business rule lives here once: validation before any write, who signs, how batches are formed.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from eth_account.signers.local import LocalAccount

from govchain.adapters.chain.base import ChainFeatureUnsupportedError
from govchain.adapters.context import REGISTRAR_LABEL, Context, issuer_label
from govchain.adapters.db import UnitOfWork
from govchain.adapters.db.repositories import DocumentRecord, Page
from govchain.adapters.ledger import (
    AccountState,
    Deployment,
    IssuerAccount,
    Ledger,
    Municipality,
    TxResult,
    doc_type_of,
)
from govchain.domain.documents import (
    AnchorRef,
    IssuerRef,
    SaltedDocument,
    declaration_evidence,
    disclose,
    finish_document,
    make_batch,
    new_document,
    parse_pointer,
    parse_proof,
    salt_document,
)
from govchain.domain.hashing import canonical_json
from govchain.domain.security import (
    link_lookup,
    new_landlord_code,
    new_link_token,
    normalize_landlord_code,
    open_link,
    seal_link,
)
from govchain.domain.text import check_shown_text
from govchain.domain.timefmt import de, now, parse_time
from govchain.domain.usecases import UseCase, UseCaseRegistry
from govchain.errors import (
    GovchainError,
    InputError,
    KeyStoreError,
    LedgerUnavailableError,
    LinkTokenError,
    PermissionDeniedError,
    RecordNotFoundError,
    ValidationError,
)

if TYPE_CHECKING:
    from govchain.adapters.index import IndexedLedger
from govchain.domain.verification import (
    REASONS,
    Status,
    VerificationResult,
    link_result,
    unverifiable,
    verify_document,
    with_link_check,
)

# Enough ether for years of anchoring on a development chain; real networks fund accounts
# themselves or run with a gas price of zero (Besu QBFT consortium).
DEV_FUNDING_WEI = 10**21


# -- home and registrar -----------------------------------------------------------------------

def init_home(ctx: Context) -> Deployment:
    """Creates the registrar key and deploys the contracts, unless the home has a deployment."""
    if ctx.initialised:
        return ctx.deployment
    keys = ctx.ensure_keystore()
    existing = keys.by_label(REGISTRAR_LABEL)
    registrar = keys.unlock(existing[0].address) if existing else keys.unlock(
        keys.create(REGISTRAR_LABEL).address)
    ctx.chain.fund(registrar.address, DEV_FUNDING_WEI)
    deployment = Ledger.deploy(ctx.chain, registrar)
    deployment.save(ctx.deployment_file)
    return ctx.deployment


def registrar_account(ctx: Context) -> LocalAccount:
    found = ctx.keys.by_label(REGISTRAR_LABEL)
    if not found:
        raise KeyStoreError(f"Kein Registrar-Schlüssel in {ctx.keys.directory}")
    return ctx.keys.unlock(found[0].address)


def _doc_types(ctx: Context, usecase_ids: Sequence[str]) -> list[bytes]:
    return [ctx.usecases.get(u).doc_type for u in usecase_ids]


def _new_issuer_key(ctx: Context, ags: str) -> str:
    info = ctx.keys.create(issuer_label(ags))
    ctx.chain.fund(info.address, DEV_FUNDING_WEI)
    return info.address


def admit_municipality(ctx: Context, ags: str, name: str, usecase_ids: Sequence[str],
                       accounts: int = 1) -> list[str]:
    """Admits a municipality with `accounts` new issuer keys; returns their addresses."""
    if accounts < 1:
        raise InputError("Mindestens ein Ausstellerkonto")
    check_shown_text("/name", "Name der Kommune", name)
    types = _doc_types(ctx, usecase_ids)
    registrar = registrar_account(ctx)
    addresses = [_new_issuer_key(ctx, ags) for _ in range(accounts)]
    ctx.ledger.admit_municipality(registrar, ags, name.strip(), addresses, types)
    return addresses


def set_doc_types(ctx: Context, ags: str, usecase_ids: Sequence[str]) -> TxResult:
    return ctx.ledger.set_doc_types(registrar_account(ctx), ags, _doc_types(ctx, usecase_ids))


def suspend_municipality(ctx: Context, ags: str) -> TxResult:
    return ctx.ledger.suspend_municipality(registrar_account(ctx), ags)


def reactivate_municipality(ctx: Context, ags: str) -> TxResult:
    return ctx.ledger.reactivate_municipality(registrar_account(ctx), ags)


def add_issuer_account(ctx: Context, ags: str) -> str:
    """Key rotation, step one: a new account for the municipality."""
    address = _new_issuer_key(ctx, ags)
    ctx.ledger.add_account(registrar_account(ctx), ags, address)
    return address


def retire_account(ctx: Context, account: str) -> TxResult:
    return ctx.ledger.retire_account(registrar_account(ctx), account)


def mark_compromised(ctx: Context, account: str, since: datetime) -> TxResult:
    if not 0 <= since.timestamp() < 2 ** 48:
        raise InputError(f"Der Zeitpunkt {since.isoformat()} liegt außerhalb des zulässigen "
                         "Bereichs (ab 1970)")
    return ctx.ledger.mark_compromised(registrar_account(ctx), account, int(since.timestamp()))


def advance_chain_time(ctx: Context, at_least: datetime) -> None:
    """Makes the next block carry a timestamp of at least `at_least` (demos and drills).

    Development chains jump their clock; a real network is simply waited for.
    """
    target = int(at_least.timestamp())
    latest = ctx.chain.latest_block().timestamp
    if latest >= target:
        return
    try:
        ctx.chain.set_next_block_timestamp(target)
    except ChainFeatureUnsupportedError:
        while ctx.chain.latest_block().timestamp < target and time.time() < target:
            time.sleep(0.2)


# -- issuers ----------------------------------------------------------------------------------

def issuer_address(ctx: Context, ags: str, account: str | None = None) -> str:
    """The account that signs for the municipality.

    An explicitly named account is used as it is, if this home holds its key: the contracts decide
    whether it may act (the chain is the source of truth for rights). Otherwise the newest active,
    uncompromised account of the municipality whose key this home holds.
    """
    if account:
        if not ctx.keys.has(account):
            raise KeyStoreError(f"Der Schlüssel des Kontos {account} ist nicht in diesem "
                                "Schlüsselspeicher")
        return account
    registry = _registry_view(ctx)
    municipality = registry.municipality(ags)
    if not municipality.admitted:
        raise InputError(f"Die Kommune mit AGS {ags} ist nicht zugelassen")
    for address in reversed(municipality.accounts):
        info = registry.issuer_account(address)
        if info.state is AccountState.ACTIVE and not info.compromised_since \
                and ctx.keys.has(address):
            return str(address)
    raise KeyStoreError(f"Kein aktives Ausstellerkonto der Kommune {ags} in diesem "
                        "Schlüsselspeicher")


class _RegistryView(Protocol):
    def municipality(self, ags: str) -> Municipality: ...

    def issuer_account(self, address: str) -> IssuerAccount: ...


class _LastKnown:
    """The status index's registry view, also while the node is away."""

    def __init__(self, indexed: IndexedLedger) -> None:
        self._indexed = indexed

    def municipality(self, ags: str) -> Municipality:
        try:
            return self._indexed.municipality(ags)
        except GovchainError:
            return self._indexed.last_known_municipality(ags)

    def issuer_account(self, address: str) -> IssuerAccount:
        try:
            return self._indexed.issuer_account(address)
        except GovchainError:
            return self._indexed.last_known_issuer_account(address)


def _registry_view(ctx: Context) -> _RegistryView:
    """Who may issue, for accepting documents: the service keeps accepting (as pending) while
    the ledger node is away, from what its status index last saw; the anchor transaction is
    checked by the contract again."""
    if ctx.indexed is not None:
        return _LastKnown(ctx.indexed)
    return ctx.ledger


def issuer_signer(ctx: Context, ags: str, account: str | None = None) -> LocalAccount:
    """The unlocked key of issuer_address(ctx, ags, account)."""
    return ctx.keys.unlock(issuer_address(ctx, ags, account))


@dataclass(frozen=True)
class IssueRequest:
    subject: Mapping[str, Any]
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    landlord_code: str | None = None  # the Zuordnungsmerkmal of a landlord confirmation
    # (role, username) of the signed-in account that submitted it; a declaration records it
    submitted_by: tuple[str, str] | None = None


def admission_problem(municipality: Municipality, usecase: UseCase) -> str | None:
    """Why the municipality may not issue documents of this type now, in German; None if it
    may. The same conditions as the contract's `authorizeAnchor` (but the signing account)."""
    if not municipality.admitted:
        return f"Die Kommune mit AGS {municipality.ags} ist nicht zugelassen"
    if not municipality.active:
        return (f"{municipality.name} ist derzeit gesperrt und kann keine Dokumente ausstellen "
                "oder entgegennehmen")
    if usecase.doc_type not in municipality.doc_types:
        return f"{municipality.name} ist für „{usecase.title['de']}“ nicht zugelassen"
    return None


def require_admitted(ctx: Context, ags: str, usecase: UseCase) -> Municipality:
    """Refuses (PermissionDeniedError) unless the municipality, as the registry view sees it, is
    admitted, active and admitted for the use case: checked before anything is stored, so a
    document the contract would refuse to anchor is never accepted (no personal data kept, no
    Zuordnungsmerkmal handed out, no batch that ends `failed`)."""
    if not re.fullmatch(r"[0-9]{8}", ags):
        raise InputError(f"Ungültiger AGS {ags!r}: 8 Ziffern erwartet (z. B. 05334002)")
    municipality = _registry_view(ctx).municipality(ags)
    problem = admission_problem(municipality, usecase)
    if problem is not None:
        raise PermissionDeniedError(problem)
    return municipality


def admitted_usecases(ctx: Context, ags: str, role: str = "clerk") -> list[UseCase]:
    """The use cases the municipality may issue now and `role` may submit: what its forms offer."""
    municipality = _registry_view(ctx).municipality(ags)
    return [uc for uc in ctx.usecases
            if role in uc.submitters and admission_problem(municipality, uc) is None]


def request_errors(usecase: UseCase, request: IssueRequest, at: datetime
                   ) -> list[tuple[str, str]]:
    """Everything wrong with one request, field by field: the subject against its schema and
    plausible years, the validity dates against the use case's limits (validityLimits)."""
    return usecase.field_errors(request.subject) + usecase.validity_limits.errors(
        request.valid_from, request.valid_until, at)


def _validate_all(usecase: UseCase, requests: Sequence[IssueRequest]) -> None:
    if not requests:
        raise InputError("Keine Dokumente zum Ausstellen")
    errors: list[tuple[str, str]] = []
    at = now()
    for i, req in enumerate(requests):
        prefix = f"[{i}]" if len(requests) > 1 else ""
        errors += [(prefix + path, msg) for path, msg in request_errors(usecase, req, at)]
    if errors:
        raise ValidationError(f"Ungültige Angaben für „{usecase.title['de']}“", errors)


def salt_documents(ctx: Context, ags: str, usecase: UseCase, requests: Sequence[IssueRequest],
                   account: str | None = None) -> list[SaltedDocument]:
    """The documents for already validated requests, salted, naming the issuing account."""
    signer_address = issuer_address(ctx, ags, account)
    municipality = _registry_view(ctx).municipality(ags)
    issuer = IssuerRef(name=municipality.name, ags=ags, account=signer_address,
                       chain_id=ctx.deployment.chain_id,
                       registry=ctx.deployment.document_registry)
    issued_at = now()
    salted = []
    for req in requests:
        valid_from = req.valid_from or issued_at
        valid_until = req.valid_until
        if valid_until is None and usecase.default_validity is not None:
            valid_until = valid_from + usecase.default_validity
        evidence = [declaration_evidence(
            declared_by=usecase.declaration.declared_by, received_by=issuer,
            received_at=issued_at, submitted_by=req.submitted_by)] if usecase.declaration else []
        salted.append(salt_document(new_document(
            credential_type=usecase.credential_type, usecase_id=usecase.id,
            subject=req.subject, issuer=issuer, valid_from=valid_from, valid_until=valid_until,
            evidence=evidence)))
    return salted


def accept_documents(ctx: Context, uow: UnitOfWork, ags: str, usecase_id: str,
                     requests: Sequence[IssueRequest], account: str | None = None, *,
                     created_by: int | None = None) -> list[DocumentRecord]:
    """Validates every request and stores the documents as pending (the caller commits); the
    anchoring worker (govchain.pipeline.anchoring) anchors them in its next batch.

    Nothing is stored unless every subject is valid; the error names each request and field.
    """
    usecase = ctx.usecases.get(usecase_id)
    require_admitted(ctx, ags, usecase)
    _validate_all(usecase, requests)
    salted = salt_documents(ctx, ags, usecase, requests, account)
    records = uow.documents.add_pending_many(
        [(s, r.landlord_code) for s, r in zip(salted, requests, strict=True)],
        created_by=created_by)
    uow.status_events.add_many([r.id for r in records], "issued", actor=created_by)
    return records


def issue_documents(ctx: Context, ags: str, usecase_id: str, requests: Sequence[IssueRequest],
                    account: str | None = None) -> list[dict[str, Any]]:
    """Validates every request, then anchors all of them under one Merkle root at once, keeping
    no records: the path of `govchain demo` and of programs that hold their own documents.

    Nothing is anchored unless every subject is valid; the error names each request and field.
    """
    usecase = ctx.usecases.get(usecase_id)
    _validate_all(usecase, requests)
    salted = salt_documents(ctx, ags, usecase, requests, account)
    signer = issuer_signer(ctx, ags, salted[0].document["issuer"]["account"])
    batch = make_batch(salted)
    tx = ctx.ledger.anchor(signer, usecase.doc_type, [batch.root])
    anchor = AnchorRef(ctx.deployment.chain_id, ctx.deployment.document_registry,
                       tx.transaction_hash, tx.block, tx.timestamp)
    return [finish_document(batch, i, anchor) for i in range(len(salted))]


@dataclass(frozen=True)
class BulkResult:
    """What a bulk issuance accepted (index in the request → document id) and refused (index →
    field errors); the accepted ones wait for the anchoring worker."""

    accepted: list[tuple[int, str]]
    rejected: list[tuple[int, list[tuple[str, str]]]]


MAX_BULK = 10_000
ACCEPT_SLICE = 500  # documents salted and stored at a time within one bulk transaction


def issue_bulk_for(ctx: Context, uow: UnitOfWork, actor: Actor, usecase_id: str,
                   requests: Sequence[IssueRequest]) -> BulkResult:
    """A clerk issues many documents of one use case for their municipality: each valid request
    is stored as pending, each invalid one is reported with its field errors."""
    _require(actor, "clerk")
    assert actor.ags is not None
    usecase = ctx.usecases.get(usecase_id)
    if actor.role not in usecase.submitters:
        raise PermissionDeniedError(f"„{usecase.title['de']}“ kann nicht von der Rolle "
                                    f"„{actor.role}“ eingereicht werden")
    requests = [replace(r, submitted_by=(actor.role, actor.username)) for r in requests]
    return accept_valid(ctx, uow, actor.ags, usecase_id, requests, created_by=actor.user_id)


def accept_valid(ctx: Context, uow: UnitOfWork, ags: str, usecase_id: str,
                 requests: Sequence[IssueRequest], *, created_by: int | None = None) -> BulkResult:
    """Stores each valid request as pending and reports each invalid one with its field errors
    (the caller commits): bulk issuance through the API and `govchain issue-bulk`."""
    usecase = ctx.usecases.get(usecase_id)
    if not requests:
        raise InputError("Keine Dokumente zum Ausstellen")
    if len(requests) > MAX_BULK:
        raise InputError(f"Höchstens {MAX_BULK} Dokumente je Auftrag (hier {len(requests)})")
    require_admitted(ctx, ags, usecase)
    good: list[tuple[int, IssueRequest]] = []
    rejected: list[tuple[int, list[tuple[str, str]]]] = []
    at = now()
    for i, req in enumerate(requests):
        errors = request_errors(usecase, req, at)
        if errors:
            rejected.append((i, errors))
        else:
            good.append((i, req))
    accepted: list[tuple[int, str]] = []
    # In slices (one transaction all the same): a process holds the salted documents and rows of
    # one slice at a time, not of thousands of documents, and its memory stays flat.
    for start in range(0, len(good), ACCEPT_SLICE):
        part = good[start:start + ACCEPT_SLICE]
        salted = salt_documents(ctx, ags, usecase, [r for _, r in part])
        uow.documents.add_pending_many([(s, None) for s in salted], created_by=created_by)
        ids = [s.document["id"] for s in salted]
        uow.status_events.add_many(ids, "issued", actor=created_by)
        accepted += [(i, d) for (i, _), d in zip(part, ids, strict=True)]
    return BulkResult(accepted, rejected)


Action = Literal["revoke", "suspend", "reinstate"]


def parse_reason(reason: str | int | None) -> int:
    if reason is None or reason == "":
        return 0
    try:
        code = int(reason)
    except ValueError:
        matches = [c for c, (de, en) in REASONS.items() if str(reason).lower() in (de.lower(), en)]
        if not matches:
            raise InputError(f"Unbekannter Grund {reason!r}; bekannt: " + ", ".join(
                f"{c}={de}" for c, (de, _) in REASONS.items())) from None
        code = matches[0]
    if not 0 <= code < 2**16:
        raise InputError("Grundcode muss zwischen 0 und 65535 liegen")
    return code


def change_status(ctx: Context, document: Mapping[str, Any], action: Action,
                  reason: str | int | None = None, account: str | None = None) -> TxResult:
    """Revokes, suspends or reinstates one document of a batch, signed by its municipality."""
    proof = parse_proof(document)
    issuer = document.get("issuer")
    if not isinstance(issuer, Mapping) or not isinstance(issuer.get("ags"), str):
        raise InputError("Dem Dokument fehlt der Aussteller (issuer.ags)")
    signer = issuer_signer(ctx, issuer["ags"], account)
    path = list(proof.path)
    if action == "revoke":
        return ctx.ledger.revoke(signer, proof.merkle_root, proof.target_hash, path,
                                 parse_reason(reason))
    if action == "suspend":
        return ctx.ledger.suspend(signer, proof.merkle_root, proof.target_hash, path,
                                  parse_reason(reason))
    return ctx.ledger.reinstate(signer, proof.merkle_root, proof.target_hash, path)


# -- verifiers --------------------------------------------------------------------------------

def verify(ctx: Context, document: Mapping[str, Any], at: datetime | str | None = None
           ) -> VerificationResult:
    when = parse_time(at) if isinstance(at, str) else at
    try:
        reader = ctx.reader
    except LedgerUnavailableError as err:
        return unverifiable(document, str(err), when)
    return verify_document(document, ledger=reader, usecases=ctx.usecases, at=when)


# -- verification links ----------------------------------------------------------------------

@dataclass(frozen=True)
class CreatedLink:
    """A new verification link; the token is shown once and never stored."""

    id: str
    token: str
    url: str
    expires_at: datetime | None


def disclose_document(usecases: UseCaseRegistry, document: Mapping[str, Any], hide: Sequence[str]
                      ) -> dict[str, Any]:
    """`document` with the `hide` fields hidden, refusing the fields its use case never lets a
    holder hide (usecase.json ``neverHidden``: without them a verifier cannot answer)."""
    status = document.get("credentialStatus")
    usecase_id = status.get("usecase") if isinstance(status, Mapping) else None
    if not isinstance(usecase_id, str):
        raise InputError("Die Dokumentart (credentialStatus.usecase) fehlt")
    return disclose(document, hide, protected=usecases.get(usecase_id).protected_fields)


LINK_MAX_LIFETIME = timedelta(days=36525)


def create_link(ctx: Context, uow: UnitOfWork, document_id: str, *, base_url: str,
                hide: Sequence[str] = (), expires_at: datetime | None = None,
                created_by: int | None = None) -> CreatedLink:
    """Shares an anchored document (optionally with hidden fields) behind a capability URL.

    The database keeps only a lookup value derived from the token and the disclosed document
    sealed with AES-GCM under a key derived from the token: a copy of it reveals no personal data
    and no usable link.
    """
    record = uow.documents.get(document_id)
    if record is None or record.document is None:
        raise InputError(f"Kein verankertes Dokument {document_id}")
    if expires_at is not None and expires_at <= now():
        raise InputError("Das Ablaufdatum des Links liegt in der Vergangenheit")
    if expires_at is not None and expires_at > now() + LINK_MAX_LIFETIME:
        # compared, never computed with: a year-9999 expiry cannot overflow on its way to the DB
        raise InputError("Das Ablaufdatum des Links liegt mehr als 100 Jahre in der Zukunft")
    shown = disclose_document(ctx.usecases, record.document, hide) if hide else record.document
    token = new_link_token()
    link_id = uuid.uuid4().hex
    sealed = seal_link(token, link_id, canonical_json(shown))
    uow.links.add(link_id=link_id, document_id=document_id, token_lookup=link_lookup(token),
                  ciphertext=sealed, hidden_paths=list(hide), created_by=created_by,
                  expires_at=expires_at)
    return CreatedLink(link_id, token, f"{base_url.rstrip('/')}/v/{token}", expires_at)


@dataclass(frozen=True)
class LinkVerification:
    result: VerificationResult
    document: dict[str, Any] | None  # the disclosed document, when the link is usable
    link_id: str | None


def verify_link(ctx: Context, uow: UnitOfWork, token: str, at: datetime | None = None
                ) -> LinkVerification:
    """Opens a link and verifies the document behind it; an expired, withdrawn or unknown link
    gives a result that says so."""
    when = at or now()
    try:
        link = uow.links.by_lookup(link_lookup(token))
    except LinkTokenError:
        link = None
    if link is None:
        return LinkVerification(link_result(Status.INVALID, "Diesen Prüflink gibt es nicht.", when),
                                None, None)
    if link.withdrawn_at is not None:
        return LinkVerification(link_result(
            Status.INVALID, f"Der Prüflink wurde am {de(link.withdrawn_at)} zurückgezogen.", when),
            None, link.id)
    if link.expires_at is not None and when >= link.expires_at:
        return LinkVerification(link_result(
            Status.EXPIRED, f"Der Prüflink ist am {de(link.expires_at)} abgelaufen.", when),
            None, link.id)
    document = json.loads(open_link(token, link.id, link.ciphertext))
    result = verify(ctx, document, when)
    until = f" bis {de(link.expires_at)}" if link.expires_at else ""
    result = with_link_check(result, f"Prüflink gültig{until}.")
    return LinkVerification(result, document, link.id)


def withdraw_link(uow: UnitOfWork, link_id: str) -> None:
    uow.links.withdraw(link_id)


# -- people: clerks, landlords (the HTTP service and the web pages) -----------------------------

Role = Literal["registrar", "clerk", "landlord"]


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user of the service."""

    user_id: int
    username: str
    role: Role
    ags: str | None  # clerks only


@dataclass(frozen=True)
class Issued:
    record: DocumentRecord
    landlord_code: str | None = None


def _require(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        raise PermissionDeniedError(
            f"Diese Aktion ist für die Rolle „{actor.role}“ nicht erlaubt")


def issue_for(ctx: Context, uow: UnitOfWork, actor: Actor, usecase_id: str,
              subject: Mapping[str, Any], *, municipality: str | None = None,
              valid_from: datetime | None = None, valid_until: datetime | None = None) -> Issued:
    """A clerk issues for their municipality; a landlord submits a confirmation (§19(4) BMG) to
    the municipality they name and gets a Zuordnungsmerkmal for the tenant."""
    _require(actor, "clerk", "landlord")
    usecase = ctx.usecases.get(usecase_id)
    if actor.role not in usecase.submitters:
        raise PermissionDeniedError(f"„{usecase.title['de']}“ kann nicht von der Rolle "
                                    f"„{actor.role}“ eingereicht werden")
    code = None
    if actor.role == "clerk":
        assert actor.ags is not None
        if municipality not in (None, actor.ags):
            raise PermissionDeniedError("Sachbearbeitende stellen nur für ihre eigene Kommune aus")
        ags = actor.ags
    else:
        # A landlord declares; when the declaration holds is the office's matter: from its
        # receipt, never backdated, never for a period the landlord chooses.
        chosen = [(path, f"{label}: Wohnungsgeber legen keine Gültigkeit fest; die Bestätigung "
                         "gilt ab ihrem Eingang bei der Meldebehörde")
                  for path, label, value in (("/validFrom", "Gültig ab", valid_from),
                                             ("/validUntil", "Gültig bis", valid_until))
                  if value is not None]
        if chosen:
            raise ValidationError("Gültigkeit nicht wählbar", chosen)
        if not municipality:
            raise InputError("Die Kommune (AGS) der Meldebehörde fehlt")
        ags = municipality
        if usecase.code_pointer:
            code = new_landlord_code()
            subject = _with_value(subject, usecase.code_pointer, code)
    req = IssueRequest(subject=subject, valid_from=valid_from, valid_until=valid_until,
                       landlord_code=code, submitted_by=(actor.role, actor.username))
    (record,) = accept_documents(ctx, uow, ags, usecase_id, [req], created_by=actor.user_id)
    return Issued(record, code)


def _with_value(subject: Mapping[str, Any], pointer: str, value: str) -> dict[str, Any]:
    copy_ = json.loads(json.dumps(subject))
    *parents, last = parse_pointer(pointer)
    node = copy_
    for token in parents:
        node = node.setdefault(token, {})
    node[last] = value
    return dict(copy_)


def _visible(actor: Actor, record: DocumentRecord) -> bool:
    if actor.role == "clerk":
        return record.ags == actor.ags
    if actor.role == "landlord":
        return record.created_by == actor.user_id
    return False


def get_document_for(uow: UnitOfWork, actor: Actor, document_id: str) -> DocumentRecord:
    """The document if the actor may see it; otherwise 'not found' (its existence stays hidden)."""
    _require(actor, "clerk", "landlord")
    record = uow.documents.get(document_id)
    if record is None or not _visible(actor, record):
        raise RecordNotFoundError(f"Kein Dokument {document_id}")
    return record


def list_documents_for(uow: UnitOfWork, actor: Actor, *, usecase: str | None = None,
                       state: str | None = None, ledger_status: str | None = None,
                       search: str | None = None, offset: int = 0, limit: int = 50
                       ) -> Page[DocumentRecord]:
    _require(actor, "clerk", "landlord")
    return uow.documents.list(
        ags=actor.ags if actor.role == "clerk" else None,
        created_by=actor.user_id if actor.role == "landlord" else None,
        usecase=usecase, state=state, ledger_status=ledger_status,  # type: ignore[arg-type]
        search=search, offset=offset, limit=limit)


_LEDGER_STATUS: dict[Action, str] = {"revoke": "revoked", "suspend": "suspended",
                                     "reinstate": "none"}
_EVENT: dict[Action, str] = {"revoke": "revoked", "suspend": "suspended",
                             "reinstate": "reinstated"}


def change_status_for(ctx: Context, uow: UnitOfWork, actor: Actor, document_id: str,
                      action: Action, reason: str | int | None = None) -> DocumentRecord:
    """Clerks revoke, suspend and reinstate documents of their own municipality."""
    _require(actor, "clerk")
    record = get_document_for(uow, actor, document_id)
    if record.document is None:
        raise InputError("Das Dokument ist noch nicht verankert")
    code = parse_reason(reason) if action != "reinstate" else None
    tx = change_status(ctx, record.document, action, code)
    record_status_change(uow, document_id, action, tx, reason=code, actor=actor.user_id)
    return get_document_for(uow, actor, document_id)


def record_status_change(uow: UnitOfWork, document_id: str, action: Action, tx: TxResult, *,
                         reason: int | None, actor: int | None) -> None:
    """Keeps the municipality's record in step with a status change made on the ledger."""
    if uow.documents.get(document_id) is None:
        return  # a document this database never stored (e.g. issued elsewhere)
    uow.documents.set_ledger_status(document_id, _LEDGER_STATUS[action])  # type: ignore[arg-type]
    uow.status_events.add(document_id, _EVENT[action], actor=actor,  # type: ignore[arg-type]
                          reason=reason, tx_hash=tx.transaction_hash)


def create_link_for(ctx: Context, uow: UnitOfWork, actor: Actor, document_id: str, *,
                    base_url: str, hide: Sequence[str] = (), expires_at: datetime | None = None
                    ) -> CreatedLink:
    get_document_for(uow, actor, document_id)
    return create_link(ctx, uow, document_id, base_url=base_url, hide=hide,
                       expires_at=expires_at, created_by=actor.user_id)


def withdraw_link_for(uow: UnitOfWork, actor: Actor, link_id: str) -> None:
    link = uow.links.by_id(link_id)
    try:
        if link is None:
            raise RecordNotFoundError(link_id)
        get_document_for(uow, actor, link.document_id)
    except RecordNotFoundError:
        # The same answer for a link of a document the actor may not see as for no link at all:
        # neither its existence nor its document's id leaks.
        raise RecordNotFoundError(f"Kein Link {link_id}") from None
    withdraw_link(uow, link_id)


def lookup_code(ctx: Context, uow: UnitOfWork, actor: Actor, code: str
                ) -> tuple[DocumentRecord, VerificationResult]:
    """A clerk of the receiving municipality finds a landlord confirmation by its code."""
    _require(actor, "clerk")
    record = uow.documents.by_landlord_code(normalize_landlord_code(code))
    if record is None or record.ags != actor.ags or record.document is None:
        raise RecordNotFoundError("Kein Dokument mit diesem Zuordnungsmerkmal für Ihre Kommune")
    return record, verify(ctx, record.document)


def doc_type_name(ctx: Context, doc_type: bytes) -> str:
    uc = ctx.usecases.by_doc_type(doc_type)
    return uc.id if uc else "0x" + doc_type.hex()


__all__ = [
    "IssueRequest", "add_issuer_account", "admit_municipality", "change_status", "doc_type_of",
    "init_home", "issue_documents", "mark_compromised", "reactivate_municipality",
    "retire_account", "set_doc_types", "suspend_municipality", "verify",
]
