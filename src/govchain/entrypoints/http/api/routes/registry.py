"""The Land authority's API: admit municipalities and manage their document types and keys.

Every route needs the registrar role; every write is signed on chain by the registrar key of this
home and recorded in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, Field, field_validator

from govchain import services
from govchain.domain.ledger_view import Municipality
from govchain.domain.vocabulary import ADDRESS_PATTERN, AGS_PATTERN
from govchain.entrypoints.http.api.schemas import Timestamp
from govchain.entrypoints.http.deps import ContextDep, CurrentRegistrar, UoWDep, audit
from govchain.entrypoints.http.routing import StrictJsonRoute
from govchain.services.audit import AuditAction

router = APIRouter(prefix="/registry", tags=["registry"], route_class=StrictJsonRoute)

AddressPath = Annotated[str, Path(pattern=ADDRESS_PATTERN, description="Kontoadresse")]
AgsPath = Annotated[str, Path(pattern=AGS_PATTERN, description="Amtlicher Gemeindeschlüssel")]


class AccountOut(BaseModel):
    address: str
    state: str
    compromisedSince: int | None


class MunicipalityOut(BaseModel):
    ags: str
    name: str
    active: bool
    usecases: list[str]
    accounts: list[AccountOut]


class AdmitIn(BaseModel):
    ags: str = Field(pattern=AGS_PATTERN, description="Amtlicher Gemeindeschlüssel")
    name: str = Field(min_length=1, max_length=200)
    usecases: list[str] = Field(min_length=1, max_length=50)
    accounts: int = Field(default=1, ge=1, le=10)


class UsecasesIn(BaseModel):
    usecases: list[str] = Field(max_length=50)


class CompromiseIn(BaseModel):
    since: Timestamp = Field(description="Seit wann der Schlüssel als kompromittiert gilt; "
                                             "nicht in der Zukunft")

    @field_validator("since")
    @classmethod
    def _unix_time(cls, since: datetime) -> datetime:
        if not services.compromise_time_fits(since):
            raise ValueError("muss zwischen 1970 und dem heutigen Tag liegen")
        return since


def _account(ctx: ContextDep, address: str) -> AccountOut:
    acc = ctx.ledger.issuer_account(address)
    return AccountOut(address=acc.address, state=acc.state.name.lower(),
                      compromisedSince=acc.compromised_since or None)


def _out(ctx: ContextDep, m: Municipality) -> MunicipalityOut:
    accounts = [_account(ctx, address) for address in m.accounts]
    return MunicipalityOut(ags=m.ags, name=m.name, active=m.active,
                           usecases=[services.doc_type_name(ctx, t) for t in m.doc_types],
                           accounts=accounts)


@router.get("/municipalities")
def list_municipalities(ctx: ContextDep, user: CurrentRegistrar) -> list[MunicipalityOut]:
    """All admitted municipalities with their document types and issuer accounts."""
    return [_out(ctx, m) for m in ctx.ledger.municipalities()]


@router.post("/municipalities", status_code=status.HTTP_201_CREATED)
def admit(body: AdmitIn, ctx: ContextDep, uow: UoWDep, user: CurrentRegistrar,
          request: Request) -> MunicipalityOut:
    """Admits a municipality with new issuer accounts for the given document types."""
    services.admit_municipality(ctx, body.ags, body.name, body.usecases, body.accounts)
    audit(uow, request, user.id, AuditAction.REGISTRY_ADMIT, body.ags)
    uow.commit()
    return _out(ctx, ctx.ledger.municipality(body.ags))


@router.put("/municipalities/{ags}/usecases")
def set_usecases(ags: AgsPath, body: UsecasesIn, ctx: ContextDep, uow: UoWDep,
                 user: CurrentRegistrar, request: Request) -> MunicipalityOut:
    services.set_doc_types(ctx, ags, body.usecases)
    audit(uow, request, user.id, AuditAction.REGISTRY_SET_USECASES, ags)
    uow.commit()
    return _out(ctx, ctx.ledger.municipality(ags))


@router.post("/municipalities/{ags}/suspend")
def suspend(ags: AgsPath, ctx: ContextDep, uow: UoWDep, user: CurrentRegistrar,
            request: Request) -> MunicipalityOut:
    services.suspend_municipality(ctx, ags)
    audit(uow, request, user.id, AuditAction.REGISTRY_SUSPEND, ags)
    uow.commit()
    return _out(ctx, ctx.ledger.municipality(ags))


@router.post("/municipalities/{ags}/reactivate")
def reactivate(ags: AgsPath, ctx: ContextDep, uow: UoWDep, user: CurrentRegistrar,
               request: Request) -> MunicipalityOut:
    services.reactivate_municipality(ctx, ags)
    audit(uow, request, user.id, AuditAction.REGISTRY_REACTIVATE, ags)
    uow.commit()
    return _out(ctx, ctx.ledger.municipality(ags))


@router.post("/municipalities/{ags}/accounts", status_code=status.HTTP_201_CREATED)
def add_account(ags: AgsPath, ctx: ContextDep, uow: UoWDep, user: CurrentRegistrar,
                request: Request) -> MunicipalityOut:
    """Key rotation: a new issuer account for the municipality."""
    address = services.add_issuer_account(ctx, ags)
    audit(uow, request, user.id, AuditAction.REGISTRY_ADD_ACCOUNT, address)
    uow.commit()
    return _out(ctx, ctx.ledger.municipality(ags))


@router.post("/accounts/{address}/retire")
def retire(address: AddressPath, ctx: ContextDep, uow: UoWDep, user: CurrentRegistrar,
           request: Request) -> AccountOut:
    services.retire_account(ctx, address)
    audit(uow, request, user.id, AuditAction.REGISTRY_RETIRE, address)
    uow.commit()
    return _account(ctx, address)


@router.post("/accounts/{address}/compromise")
def compromise(address: AddressPath, body: CompromiseIn, ctx: ContextDep, uow: UoWDep,
               user: CurrentRegistrar, request: Request) -> AccountOut:
    """Marks an account compromised since a time: its later anchors fail verification."""
    services.mark_compromised(ctx, address, body.since)
    audit(uow, request, user.id, AuditAction.REGISTRY_COMPROMISE, address)
    uow.commit()
    return _account(ctx, address)


# -- credential-signing keys (P-256, for the W3C VC's Data Integrity proofs) -----------------

KeyIdPath = Annotated[str, Path(pattern=r"^(0x)?[0-9a-fA-F]{64}$",
                                description="Schlüssel-ID im Ledger (keccak256, hex)")]


class SigningKeyOut(BaseModel):
    keyId: str
    ags: str
    state: str
    addedAt: int
    retiredAt: int | None
    compromisedSince: int | None
    publicKeyMultibase: str | None


def _signing_key(ctx: ContextDep, key_id: bytes) -> SigningKeyOut:
    key = ctx.ledger.signing_key(key_id)
    return SigningKeyOut(keyId=key_id.hex(), ags=key.ags, state=key.state.name.lower(),
                         addedAt=key.added_at, retiredAt=key.retired_at or None,
                         compromisedSince=key.compromised_since or None,
                         publicKeyMultibase=services.signing_key_multibase(key))


@router.get("/municipalities/{ags}/signing-keys")
def signing_keys(ags: AgsPath, ctx: ContextDep, user: CurrentRegistrar) -> list[SigningKeyOut]:
    """Every signing key the ledger lists for the municipality, in the order added."""
    return [_signing_key(ctx, k.key_id) for k in ctx.ledger.signing_keys_of(ags)]


@router.post("/municipalities/{ags}/signing-keys", status_code=status.HTTP_201_CREATED)
def add_signing_key(ags: AgsPath, ctx: ContextDep, uow: UoWDep, user: CurrentRegistrar,
                    request: Request) -> SigningKeyOut:
    """Key rotation for credentials: a new signing key, made and kept (encrypted) by this service
    and registered on the ledger; new proofs are signed with it."""
    info = services.add_signing_key(ctx, ags)
    audit(uow, request, user.id, AuditAction.REGISTRY_ADD_SIGNING_KEY, info.key_id.hex())
    uow.commit()
    return _signing_key(ctx, info.key_id)


@router.post("/signing-keys/{key_id}/retire")
def retire_signing_key(key_id: KeyIdPath, ctx: ContextDep, uow: UoWDep, user: CurrentRegistrar,
                       request: Request) -> SigningKeyOut:
    """No new proofs with this key; those made before stay valid."""
    raw = services.parse_key_id(key_id)
    services.retire_signing_key(ctx, raw)
    audit(uow, request, user.id, AuditAction.REGISTRY_RETIRE_SIGNING_KEY, raw.hex())
    uow.commit()
    return _signing_key(ctx, raw)


@router.post("/signing-keys/{key_id}/compromise")
def compromise_signing_key(key_id: KeyIdPath, body: CompromiseIn, ctx: ContextDep,
                           uow: UoWDep, user: CurrentRegistrar,
                           request: Request) -> SigningKeyOut:
    """Marks a signing key compromised since a time: proofs it made from then on fail, and the
    municipality's DID document no longer lists it."""
    raw = services.parse_key_id(key_id)
    services.mark_signing_key_compromised(ctx, raw, body.since)
    audit(uow, request, user.id, AuditAction.REGISTRY_COMPROMISE_SIGNING_KEY, raw.hex())
    uow.commit()
    return _signing_key(ctx, raw)
