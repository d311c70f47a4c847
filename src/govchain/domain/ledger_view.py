"""What the ledger says, as values: municipalities, issuer accounts, credential-signing keys, anchors,
document status and the answer of one verification, plus the `LedgerReader` port that verification
asks. The contract bindings (`adapters.ledger`) and the status index (`adapters.index`) both answer in
these types."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from govchain.domain.hashing import keccak
from govchain.domain.timefmt import de_unix


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
class SigningKey:
    """A municipality's credential-signing key (P-256) as the issuer registry holds it; a key never
    added has state UNKNOWN, ags "" and an empty public key."""

    key_id: bytes  # keccak-256 of the public key
    ags: str
    state: AccountState
    added_at: int
    retired_at: int  # 0 while active
    compromised_since: int  # 0 = never marked compromised
    public_key: bytes  # 33 bytes, compressed SEC1


def signing_key_id(public_key: bytes) -> bytes:
    """The id under which the issuer registry keeps a signing key: keccak-256 of its 33 bytes."""
    return keccak(public_key)


def signing_key_usable_at(key: SigningKey, t: int) -> str | None:
    """None if a proof made at unix time `t` with `key` is acceptable, else why not (German).

    The key must have been registered at or before `t`; a key retired at R signs nothing after R
    (block times and proof times are whole seconds: a proof of the second the key was retired in
    was made as it was retired, by its rightful holder), a key compromised since C nothing from C
    on, while proofs made before stay good. Compromise is the graver fact and is named first.
    """
    if key.state is AccountState.UNKNOWN:
        return "Schlüssel ist im Register unbekannt"
    if key.compromised_since and t >= key.compromised_since:
        return f"Schlüssel gilt seit {_when(key.compromised_since)} als kompromittiert"
    if t < key.added_at:
        return "Schlüssel erst nach der Signatur registriert"
    if key.retired_at and t > key.retired_at:
        return "Schlüssel war zur Signaturzeit bereits stillgelegt"
    return None


def _when(ts: int) -> str:
    # A uint48 reaches far past the year 9999, which datetime cannot show; the contract takes no
    # time in the future, but a reason must never fail for want of a date.
    try:
        return de_unix(ts)
    except (OverflowError, ValueError, OSError):
        return f"Unix-Zeit {ts}"


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

    def signing_key(self, key_id: bytes) -> SigningKey:
        """The signing key with this id (state UNKNOWN if it was never added)."""
        ...
