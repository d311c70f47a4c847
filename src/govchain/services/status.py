"""Revoking, suspending and reinstating a document: reason codes, the ledger transaction and the
status event recorded beside it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.adapters.db.repositories import DocumentRecord
from govchain.adapters.ledger import TxResult
from govchain.domain.documents import parse_proof, split_proof_set
from govchain.domain.verification import REASONS
from govchain.errors import (
    InputError,
)
from govchain.services import audit
from govchain.services.audit import AuditAction
from govchain.services.people import Actor, get_document_for, require_role
from govchain.services.signers import issuer_signer

Action = Literal["revoke", "suspend", "reinstate"]


def parse_reason(reason: str | int | None, *, known_only: bool = False) -> int:
    """The reason code of a status change. `known_only`: only the digits of a code in REASONS
    (what the pages' selection offers); otherwise (API, CLI) also any code 0–65535 and a known
    reason's German or English name; nothing at all is 0."""
    if known_only:
        text = str(reason)
        if not text.isdigit() or int(text) not in REASONS:
            raise InputError("Unbekannter Grund")
        return int(text)
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
    document, _ = split_proof_set(document)
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


_LEDGER_STATUS: dict[Action, str] = {"revoke": "revoked", "suspend": "suspended",
                                     "reinstate": "none"}


_EVENT: dict[Action, str] = {"revoke": "revoked", "suspend": "suspended",
                             "reinstate": "reinstated"}


def change_status_for(ctx: Context, uow: UnitOfWork, actor: Actor, document_id: str,
                      action: Action, reason: str | int | None = None) -> DocumentRecord:
    """Clerks revoke, suspend and reinstate documents of their own municipality."""
    require_role(actor, "clerk")
    record = get_document_for(uow, actor, document_id)
    if record.document is None:
        raise InputError("Das Dokument ist noch nicht verankert")
    code = parse_reason(reason) if action != "reinstate" else None
    tx = change_status(ctx, record.document, action, code)
    record_status_change(uow, document_id, action, tx, reason=code, actor=actor.user_id)
    audit.record(uow, actor.who, AuditAction(f"document.{action}"), document_id,
                 {"reason": reason} if reason is not None else None)
    return get_document_for(uow, actor, document_id)


def record_status_change(uow: UnitOfWork, document_id: str, action: Action, tx: TxResult, *,
                         reason: int | None, actor: int | None) -> None:
    """Keeps the municipality's record in step with a status change made on the ledger."""
    if uow.documents.get(document_id) is None:
        return  # a document this database never stored (e.g. issued elsewhere)
    uow.documents.set_ledger_status(document_id, _LEDGER_STATUS[action])  # type: ignore[arg-type]
    uow.status_events.add(document_id, _EVENT[action], actor=actor,  # type: ignore[arg-type]
                          reason=reason, tx_hash=tx.transaction_hash)
