"""The Land authority's pages: municipalities with their accounts and admitted document types;
admit, set types, suspend and reactivate, add, retire and mark accounts compromised. And the
service's own accounts (/registry/users): disable and enable staff users, set a new password, end
sessions, revoke API keys — each after a confirmation, through the service functions the API and
the command line use.

The same service functions as the registry API, each write audited the same way. A write the
ledger refuses (e.g. retiring an account twice) shows the registry page again with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

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
from govchain.errors import InputError, LedgerError, RecordNotFoundError, ValidationError
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


# -- staff accounts, their sessions, API keys ---------------------------------------------------

VIA = "web"
Id = Annotated[int, Path(ge=1, le=2 ** 31 - 1)]
USER_ACTIONS = ("disable", "enable", "end-sessions")
# What a finished change says on the page it returns to (`?done=`).
DONE = ("disable", "enable", "password", "end-sessions", "end-session", "revoke-key")


def _done(request: Request) -> str | None:
    done = request.query_params.get("done")
    return done if done in DONE else None


def _users_page(request: Request, uow: UnitOfWork, actor: services.Actor, *,
                status: int = 200, error: str | None = None) -> Response:
    return render(request, "users.html", status=status, headers=PRIVATE_HEADERS,
                  users=services.list_users(uow, actor), api_keys=services.list_api_keys(uow, actor),
                  done=_done(request), error=error)


def _user_page(request: Request, uow: UnitOfWork, actor: services.Actor, user_id: Id, *,
               status: int = 200, error: str | None = None) -> Response:
    user = services.get_user(uow, actor, user_id)
    return render(request, "user.html", status=status, headers=PRIVATE_HEADERS, user=user,
                  sessions=services.list_sessions(uow, actor, user_id), done=_done(request),
                  error=error, min_length=services.MIN_PASSWORD_LENGTH)


def _confirm(request: Request, *, action: str, url: str, back: str, name: str,
             fields: dict[str, str] | None = None) -> Response:
    """The question before a change of an account or key; the second post (``confirmed``) acts."""
    return render(request, "admin_confirm.html", headers=PRIVATE_HEADERS, action=action, url=url,
                  back=back, name=name, fields=fields or {})


@router.get("/registry/users")
def users(request: Request, uow: UoWDep, actor: WebRegistrar) -> Response:
    """Every staff account with its state and open sessions, and the API keys."""
    return _users_page(request, uow, actor)


@router.get("/registry/users/{user_id}")
def user_page(request: Request, user_id: Id, uow: UoWDep, actor: WebRegistrar) -> Response:
    """One account: its sessions (end one or all) and a new password."""
    return _user_page(request, uow, actor, user_id)


@router.post("/registry/users/{user_id}/password")
def reset_password(request: Request, user_id: Id, form: CheckedForm, uow: UoWDep,
                   actor: WebRegistrar) -> Response:
    """A new password for the account (typed twice, which is the confirmation); its sessions
    end."""
    t = Translator(lang_of(request))
    password = str(form.get("password") or "")
    if password != str(form.get("password_repeat") or ""):
        return _user_page(request, uow, actor, user_id, status=422,
                          error=t("users.password_mismatch"))
    try:
        services.reset_password(uow, actor, user_id, password, via=VIA)
    except ValidationError as err:
        uow.rollback()
        return _user_page(request, uow, actor, user_id, status=422,
                          error="; ".join(message for _, message in err.errors))
    uow.commit()
    if actor.user_id == user_id:
        return redirect(request, "/login")  # their own sessions ended with the old password
    return redirect(request, f"/registry/users/{user_id}?done=password")


@router.post("/registry/users/{user_id}/{action}")
def change_user(request: Request, user_id: Id, action: str, form: CheckedForm, uow: UoWDep,
                actor: WebRegistrar) -> Response:
    """Disable, enable, or end sessions (one with ``session``, else all): first post the
    confirmation page, second post with ``confirmed`` the change."""
    if action not in USER_ACTIONS:
        raise RecordNotFoundError("Unbekannte Aktion")
    user = services.get_user(uow, actor, user_id)
    session_text = str(form.get("session") or "")
    session_id = int(session_text) if session_text.isdigit() else None
    if session_text and session_id is None:
        raise InputError("Keine Sitzungsnummer")
    back = f"/registry/users/{user_id}" if action == "end-sessions" else "/registry/users"
    if form.get("confirmed") != "yes":
        one = action == "end-sessions" and session_id is not None
        return _confirm(request, action="end-session" if one else action,
                        url=f"/registry/users/{user_id}/{action}", back=back, name=user.username,
                        fields={"session": str(session_id)} if one else None)
    try:
        if action == "disable":
            services.disable_user(uow, actor, user_id, via=VIA)
        elif action == "enable":
            services.enable_user(uow, actor, user_id, via=VIA)
        else:
            services.end_sessions(uow, actor, user_id, session_id, via=VIA)
    except InputError as err:  # e.g. the registrar's own account
        uow.rollback()
        return _users_page(request, uow, actor, status=status_of(err), error=str(err))
    uow.commit()
    if actor.user_id == user_id and action == "end-sessions" and session_id is None:
        return redirect(request, "/login")  # the registrar ended their own session too
    done = "end-session" if action == "end-sessions" and session_id is not None else action
    return redirect(request, f"{back}?done={done}")


@router.post("/registry/api-keys/{api_key_id}/revoke")
def revoke_api_key(request: Request, api_key_id: Id, form: CheckedForm, uow: UoWDep,
                   actor: WebRegistrar) -> Response:
    """First post the confirmation page, second post with ``confirmed`` the revocation."""
    key = services.get_api_key(uow, actor, api_key_id)
    if form.get("confirmed") != "yes":
        return _confirm(request, action="revoke-key", url=f"/registry/api-keys/{api_key_id}/revoke",
                        back="/registry/users", name=f"{key.name} ({key.prefix}…)")
    services.revoke_api_key(uow, actor, api_key_id, via=VIA)
    uow.commit()
    return redirect(request, "/registry/users?done=revoke-key#api-keys")
