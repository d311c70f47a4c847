"""The audit log's one table of actions, and how an entry is written: who (a signed-in user with
the address they came from, or the operator at the command line), what, on which target, with
detail that never holds personal data or a secret (the repository refuses secret-looking keys).

The service functions that act for a signed-in user (`issue_for`, `change_status_for`,
`create_link_for`, …) write their entry themselves, in the caller's unit of work, so that a new
entrypoint cannot forget it; registry changes and logins are written by the entrypoint that made
them, with an action from this table."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from govchain.adapters.db import UnitOfWork
from govchain.domain.vocabulary import ActorKind


class AuditAction(StrEnum):
    CHAIN_DEPLOY = "chain.deploy"
    REGISTRY_ADMIT = "registry.admit"
    REGISTRY_SET_USECASES = "registry.set-usecases"
    REGISTRY_SUSPEND = "registry.suspend"
    REGISTRY_REACTIVATE = "registry.reactivate"
    REGISTRY_ADD_ACCOUNT = "registry.add-account"
    REGISTRY_RETIRE = "registry.retire"
    REGISTRY_COMPROMISE = "registry.compromise"
    REGISTRY_ADD_SIGNING_KEY = "registry.add-signing-key"
    REGISTRY_RETIRE_SIGNING_KEY = "registry.retire-signing-key"
    REGISTRY_COMPROMISE_SIGNING_KEY = "registry.compromise-signing-key"
    DOCUMENT_ISSUE = "document.issue"
    DOCUMENT_ISSUE_BULK = "document.issue_bulk"
    DOCUMENT_REVOKE = "document.revoke"
    DOCUMENT_SUSPEND = "document.suspend"
    DOCUMENT_REINSTATE = "document.reinstate"
    LINK_CREATE = "link.create"
    LINK_WITHDRAW = "link.withdraw"
    WALLET_OFFER = "wallet.offer"
    WALLET_ISSUE = "wallet.issue"
    AUTH_LOGOUT = "auth.logout"
    USER_ADD = "user.add"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_RESET_PASSWORD = "user.reset-password"
    USER_END_SESSIONS = "user.end-sessions"
    APIKEY_CREATE = "apikey.create"
    APIKEY_REVOKE = "apikey.revoke"


# The HTTP request being answered (its X-Request-ID), set by the service's middleware for the
# request's context (threads included); every audit entry written meanwhile carries it.
REQUEST_ID: ContextVar[str | None] = ContextVar("govchain_request_id", default=None)


@dataclass(frozen=True)
class Who:
    """Who an audit entry names: `actor` is a user id, or the operator at the command line."""

    actor: str
    kind: ActorKind
    address: str | None = None

    @classmethod
    def user(cls, user_id: int, address: str | None = None) -> Who:
        return cls(str(user_id), "user", address)


def record(uow: UnitOfWork, who: Who, action: AuditAction, target: str,
           detail: dict[str, Any] | None = None) -> None:
    """Adds the entry to `uow`: committed with the change it describes, or not at all."""
    uow.audit.append(actor=who.actor, actor_kind=who.kind, action=action.value, target=target,
                     remote_addr=who.address, detail=detail, request_id=REQUEST_ID.get())
