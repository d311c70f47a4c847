"""What the ledger says, as values: municipalities, issuer accounts, anchors, document status and
the answer of one verification, plus the `LedgerReader` port that verification asks. The contract
bindings (`adapters.ledger`) and the status index (`adapters.index`) both answer in these types."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from govchain.domain.hashing import keccak


class AccountState(IntEnum):
    UNKNOWN = 0
    ACTIVE = 1
    RETIRED = 2


class DocumentStatus(IntEnum):
    NONE = 0
    SUSPENDED = 1
    REVOKED = 2


def doc_type_of(usecase_id: str) -> bytes:
    return keccak(usecase_id.encode())


@dataclass(frozen=True)
class Deployment:
    """Where the contracts of one govchain ledger live."""

    chain_id: int
    issuer_registry: str
    document_registry: str
    block: int
    admin: str


@dataclass(frozen=True)
class Municipality:
    ags: str
    name: str
    admitted: bool
    active: bool
    admitted_at: int
    accounts: tuple[str, ...]
    doc_types: tuple[bytes, ...]


@dataclass(frozen=True)
class IssuerAccount:
    address: str
    ags: str
    state: AccountState
    added_at: int
    retired_at: int
    compromised_since: int


@dataclass(frozen=True)
class AnchorInfo:
    account: str
    timestamp: int
    block: int
    tx_hash: str  # "" where the node no longer serves the log
    doc_type: bytes


@dataclass(frozen=True)
class OnChainVerification:
    """What the ledger says about one document (DocumentRegistry.verification)."""

    anchored: bool
    root: bytes
    leaf: bytes
    ags: str
    municipality_name: str
    municipality_active: bool
    account: str
    doc_type: bytes
    anchored_at: int
    anchor_block: int
    account_retired_at: int
    account_compromised_since: int
    doc_type_allowed_now: bool
    status: DocumentStatus
    reason: int
    status_changed_at: int
    ledger_block: int  # the block this answer rests on


class LedgerReader(Protocol):
    """What verification needs from the ledger (direct contract call or, later, an index)."""

    @property
    def deployment(self) -> Deployment: ...

    def verification(self, root: bytes, target_hash: bytes) -> OnChainVerification: ...
