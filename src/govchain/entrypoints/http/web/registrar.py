"""The Land authority's pages: municipalities with their accounts and admitted document types;
admit, set types, suspend and reactivate, add, retire and mark accounts compromised.

The same service functions as the registry API, each write audited the same way. A write the
ledger refuses (e.g. retiring an account twice) shows the registry page again with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request, Response

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain.ledger_view import AccountState
from govchain.domain.timefmt import BERLIN, from_unix
from govchain.domain.vocabulary import is_ags
from govchain.entrypoints.http.deps import ContextDep, UoWDep, audit
from govchain.entrypoints.http.errors import status_of
from govchain.entrypoints.http.web.i18n import Translator, lang_of
from govchain.entrypoints.http.web.rendering import PRIVATE_HEADERS, WebRoute, redirect, render
from govchain.entrypoints.http.web.session import CheckedForm, WebRegistrar
from govchain.errors import InputError, LedgerError
from govchain.services import queries
from govchain.services.audit import AuditAction

router = APIRouter(route_class=WebRoute, include_in_schema=False)

_HEX = set("0123456789abcdefABCDEF")


def _registry_page(request: Request, ctx: Context, *, status: int = 200,
                   error: str | None = None, admit: dict[str, object] | None = None) -> Response:
    return render(request, "registry.html", status=status, headers=PRIVATE_HEADERS,
                  municipalities=queries.municipalities(ctx), usecases=ctx.usecases.all(),
                  error=error, admit=admit or {"ags": "", "name": "", "usecases": []},
                  from_unix=from_unix, states=AccountState)


def _write(request: Request, ctx: Context, uow: UnitOfWork, actor: services.Actor, action: AuditAction,
           call: Callable[[], str], done: str) -> Response:
    """Runs one registry write; `call` returns the audit target and the AGS to jump back to is
    taken from it (an account's municipality for account actions)."""
    try:
        target = call()
    except (InputError, LedgerError) as err:
        return _registry_page(request, ctx, status=status_of(err), error=str(err))
    audit(uow, request, actor.user_id, action, target)
    uow.commit()
    ags = target if is_ags(target) else ctx.ledger.issuer_account(target).ags
    return redirect(request, f"/registry?done={done}#m-{ags}")


@router.get("/registry")
def registry(request: Request, ctx: ContextDep, actor: WebRegistrar) -> Response:
    del actor
    return _registry_page(request, ctx)


def _usecases(form: CheckedForm) -> list[str]:
    return [u for u in form.getlist("usecases") if isinstance(u, str)]


def _ags(value: str) -> str:
    if not is_ags(value):
        raise InputError("Der AGS hat genau 8 Ziffern")
    return value


def _address(value: str) -> str:
    if len(value) != 42 or not value.startswith("0x") or not set(value[2:]) <= _HEX:
        raise InputError("Keine Kontoadresse (0x und 40 Hexadezimalziffern)")
    return value


@router.post("/registry/municipalities")
def admit(request: Request, form: CheckedForm, ctx: ContextDep, uow: UoWDep,
          actor: WebRegistrar) -> Response:
    t = Translator(lang_of(request))
    ags = str(form.get("ags") or "").strip()
    name = str(form.get("name") or "").strip()
    usecases = _usecases(form)
    problem = (t("registry.bad_ags") if not is_ags(ags)
               else t("registry.no_name") if not name
               else t("registry.no_usecase") if not usecases else None)
    if problem:
        return _registry_page(request, ctx, status=422, error=problem,
                              admit={"ags": ags, "name": name, "usecases": usecases})

    def call() -> str:
        services.admit_municipality(ctx, ags, name, usecases)
        return ags

    return _write(request, ctx, uow, actor, AuditAction.REGISTRY_ADMIT, call, "admit")


@router.post("/registry/municipalities/{ags}/usecases")
def set_usecases(request: Request, ags: str, form: CheckedForm, ctx: ContextDep, uow: UoWDep,
                 actor: WebRegistrar) -> Response:
    def call() -> str:
        services.set_doc_types(ctx, _ags(ags), _usecases(form))
        return ags

    return _write(request, ctx, uow, actor, AuditAction.REGISTRY_SET_USECASES, call, "usecases")


@router.post("/registry/municipalities/{ags}/suspend")
def suspend(request: Request, ags: str, form: CheckedForm, ctx: ContextDep, uow: UoWDep,
            actor: WebRegistrar) -> Response:
    del form

    def call() -> str:
        services.suspend_municipality(ctx, _ags(ags))
        return ags

    return _write(request, ctx, uow, actor, AuditAction.REGISTRY_SUSPEND, call, "suspend")


@router.post("/registry/municipalities/{ags}/reactivate")
def reactivate(request: Request, ags: str, form: CheckedForm, ctx: ContextDep, uow: UoWDep,
               actor: WebRegistrar) -> Response:
    del form

    def call() -> str:
        services.reactivate_municipality(ctx, _ags(ags))
        return ags

    return _write(request, ctx, uow, actor, AuditAction.REGISTRY_REACTIVATE, call, "reactivate")


@router.post("/registry/municipalities/{ags}/accounts")
def add_account(request: Request, ags: str, form: CheckedForm, ctx: ContextDep, uow: UoWDep,
                actor: WebRegistrar) -> Response:
    """Key rotation: a new issuer account for the municipality."""
    del form
    return _write(request, ctx, uow, actor, AuditAction.REGISTRY_ADD_ACCOUNT,
                  lambda: services.add_issuer_account(ctx, _ags(ags)), "account")


@router.post("/registry/accounts/{address}/retire")
def retire(request: Request, address: str, form: CheckedForm, ctx: ContextDep, uow: UoWDep,
           actor: WebRegistrar) -> Response:
    del form

    def call() -> str:
        services.retire_account(ctx, _address(address))
        return address

    return _write(request, ctx, uow, actor, AuditAction.REGISTRY_RETIRE, call, "retire")


@router.post("/registry/accounts/{address}/compromise")
def compromise(request: Request, address: str, form: CheckedForm, ctx: ContextDep, uow: UoWDep,
               actor: WebRegistrar) -> Response:
    """Marks the account compromised since the given local time (Europe/Berlin)."""
    t = Translator(lang_of(request))
    text = str(form.get("since") or "").strip()
    try:
        since = datetime.fromisoformat(text)
    except ValueError:
        return _registry_page(request, ctx, status=422, error=t("registry.bad_since"))
    since = since if since.tzinfo else since.replace(tzinfo=BERLIN)

    def call() -> str:
        services.mark_compromised(ctx, _address(address), since)
        return address

    return _write(request, ctx, uow, actor, AuditAction.REGISTRY_COMPROMISE, call, "compromise")
