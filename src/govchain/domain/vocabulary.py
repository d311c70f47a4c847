"""The words every layer shares, defined once: who acts (roles), the states of a document, the
ledger's status words, and the identifiers of the register with their one format rule each
(the AGS, an account address).

Typed identifiers (`Ags`, `Address`) are plain strings at run time; the types say which string is
meant where a signature takes several."""

from __future__ import annotations

import re
from typing import Final, Literal, NewType

from govchain.errors import InputError

Role = Literal["registrar", "clerk", "landlord"]
DocumentState = Literal["pending", "anchored", "failed"]
LedgerStatus = Literal["none", "suspended", "revoked"]
StatusAction = Literal["issued", "anchored", "suspended", "reinstated", "revoked"]
ActorKind = Literal["user", "api_key", "anonymous"]

ROLES: tuple[Role, ...] = ("registrar", "clerk", "landlord")
DOCUMENT_STATES: tuple[DocumentState, ...] = ("pending", "anchored", "failed")
LEDGER_STATUSES: tuple[LedgerStatus, ...] = ("none", "suspended", "revoked")
STATUS_ACTIONS: tuple[StatusAction, ...] = ("issued", "anchored", "suspended", "reinstated",
                                            "revoked")
ACTOR_KINDS: tuple[ActorKind, ...] = ("user", "api_key", "anonymous")

Ags = NewType("Ags", str)  # Amtlicher Gemeindeschlüssel: 8 digits, e.g. 05334002 (Aachen)
Address = NewType("Address", str)  # an Ethereum account, 0x + 40 hex digits

AGS_PATTERN: Final = r"^[0-9]{8}$"
ADDRESS_PATTERN: Final = r"^0x[0-9a-fA-F]{40}$"
_AGS = re.compile(AGS_PATTERN)


def is_ags(text: object) -> bool:
    """True for an AGS in its one written form: exactly 8 ASCII digits."""
    return isinstance(text, str) and _AGS.fullmatch(text) is not None


def parse_ags(text: str) -> Ags:
    """`text` as an AGS, or InputError with a message for people."""
    if not is_ags(text):
        raise InputError(f"Ungültiger AGS {text!r}: 8 Ziffern erwartet (z. B. 05334002)")
    return Ags(text)
