"""`govchain users` and `govchain apikeys`: the service's staff accounts, their sessions and API
keys. The operator at the command line acts through the same service functions as the
registrar's API and pages, each change audited."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import click

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork, UserRecord
from govchain.bootstrap import open_database
from govchain.domain.timefmt import de
from govchain.domain.vocabulary import ROLES, Role
from govchain.entrypoints.cli.base import (
    cli_who,
    handle_errors,
    main,
    pass_ctx,
    service_settings,
)
from govchain.errors import InputError, ValidationError

T = TypeVar("T")
VIA = "cli"
database_option = click.option("--database-url", help="Standard: SQLite im govchain-Verzeichnis.")
json_option = click.option("--json", "as_json", is_flag=True, help="Ausgabe als JSON.")


@contextmanager
def _uow(ctx: Context, database_url: str | None) -> Iterator[UnitOfWork]:
    """A unit of work on the service's database; the command commits what it changed."""
    engine = open_database(service_settings(ctx, database_url=database_url))
    try:
        with UnitOfWork(engine) as uow:
            yield uow
    finally:
        engine.dispose()


def _change(ctx: Context, database_url: str | None, username: str,
            change: Callable[[UnitOfWork, int], T]) -> T:
    """Finds the user by name and makes one audited change, committed with its entry."""
    with _uow(ctx, database_url) as uow:
        user = services.find_user(uow, cli_who(), username)
        result = change(uow, user.id)
        uow.commit()
        return result


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@main.group()
def users() -> None:
    """Benutzerkonten des Dienstes (Registrierungsstelle, Sachbearbeitung, Wohnungsgeber)."""


@users.command("add")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--username", required=True)
@click.option("--municipality", help="AGS der Kommune (8 Ziffern); nur und immer für clerk.")
@click.option("--display-name", help="Angezeigter Name (Standard: der Benutzername).")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Liest das Passwort (mindestens 12 Zeichen) von der Standardeingabe.")
@database_option
@pass_ctx
@handle_errors
def users_add(ctx: Context, role: Role, username: str, municipality: str | None,
              display_name: str | None, password_stdin: bool, database_url: str | None) -> None:
    """Legt ein Benutzerkonto an; das Passwort kommt von der Standardeingabe."""
    password = sys.stdin.readline().rstrip("\r\n")
    new = services.NewUser(username, password, role, municipality, display_name)
    with _uow(ctx, database_url) as uow:
        try:
            user = services.add_user(uow, cli_who(), new, via=VIA)
        except ValidationError as err:  # named by the command's options
            raise InputError("; ".join(f"--{name}: {message}"
                                       for name, message in err.errors)) from None
        uow.commit()
    where = f" der Kommune {municipality}" if municipality else ""
    click.echo(f"Benutzer {user.username} ({role}{where}) angelegt, ID {user.id}")


@users.command("list")
@click.option("--role", type=click.Choice(ROLES), help="Nur Konten dieser Rolle.")
@json_option
@database_option
@pass_ctx
@handle_errors
def users_list(ctx: Context, role: Role | None, as_json: bool, database_url: str | None) -> None:
    """Zeigt alle Benutzerkonten mit Zustand und offenen Sitzungen."""
    with _uow(ctx, database_url) as uow:
        found = services.list_users(uow, cli_who(), role=role)
    if as_json:
        _echo_json([{"id": o.user.id, "username": o.user.username, "role": o.user.role,
                     "municipality": o.user.municipality_ags,
                     "displayName": o.user.display_name, "active": o.user.active,
                     "createdAt": _time(o.user.created_at),
                     "disabledAt": _time(o.user.disabled_at), "sessions": o.sessions}
                    for o in found])
        return
    for o in found:
        u = o.user
        where = f" {u.municipality_ags}" if u.municipality_ags else ""
        state = "aktiv" if u.active else f"gesperrt seit {de(u.disabled_at)}" \
            if u.disabled_at else "gesperrt"
        click.echo(f"{u.id:>5}  {u.username}  ({u.role}{where})  {state}  "
                   f"{o.sessions} Sitzung(en)")


@users.command("disable")
@click.argument("username")
@database_option
@pass_ctx
@handle_errors
def users_disable(ctx: Context, username: str, database_url: str | None) -> None:
    """Sperrt ein Benutzerkonto: keine Anmeldung mehr, alle Sitzungen enden sofort."""
    user = _change(ctx, database_url, username,
                   lambda uow, user_id: services.disable_user(uow, cli_who(), user_id, via=VIA))
    click.echo(f"Benutzer {user.username} gesperrt; seine Sitzungen sind beendet")


@users.command("enable")
@click.argument("username")
@database_option
@pass_ctx
@handle_errors
def users_enable(ctx: Context, username: str, database_url: str | None) -> None:
    """Entsperrt ein Benutzerkonto (frühere Sitzungen bleiben beendet)."""
    user = _change(ctx, database_url, username,
                   lambda uow, user_id: services.enable_user(uow, cli_who(), user_id, via=VIA))
    click.echo(f"Benutzer {user.username} entsperrt")


@users.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Liest das neue Passwort (mindestens 12 Zeichen) von der Standardeingabe.")
@database_option
@pass_ctx
@handle_errors
def users_reset_password(ctx: Context, username: str, password_stdin: bool,
                         database_url: str | None) -> None:
    """Setzt ein neues Passwort; alle Sitzungen des Kontos enden sofort."""
    password = sys.stdin.readline().rstrip("\r\n")

    def change(uow: UnitOfWork, user_id: int) -> UserRecord:
        try:
            return services.reset_password(uow, cli_who(), user_id, password, via=VIA)
        except ValidationError as err:
            raise InputError("; ".join(message for _, message in err.errors)) from None

    user = _change(ctx, database_url, username, change)
    click.echo(f"Neues Passwort für {user.username} gesetzt; seine Sitzungen sind beendet")


@users.command("sessions")
@click.argument("username")
@json_option
@database_option
@pass_ctx
@handle_errors
def users_sessions(ctx: Context, username: str, as_json: bool, database_url: str | None) -> None:
    """Zeigt die offenen Sitzungen (Anmeldungen) eines Kontos."""
    with _uow(ctx, database_url) as uow:
        user = services.find_user(uow, cli_who(), username)
        found = services.list_sessions(uow, cli_who(), user.id)
    if as_json:
        _echo_json([{"id": s.id, "createdAt": _time(s.created_at),
                     "expiresAt": _time(s.expires_at), "lastSeenAt": _time(s.last_seen_at),
                     "address": s.address, "userAgent": s.user_agent} for s in found])
        return
    if not found:
        click.echo(f"{user.username} hat keine offenen Sitzungen")
    for s in found:
        click.echo(f"{s.id:>5}  angemeldet {de(s.created_at)}, zuletzt {de(s.last_seen_at)}"
                   f" von {s.address or '?'}, bis {de(s.expires_at)}  {s.user_agent or ''}"
                   .rstrip())


@users.command("end-sessions")
@click.argument("username")
@click.option("--session", "session_id", type=click.IntRange(min=1),
              help="Nur diese Sitzung beenden (ID aus `govchain users sessions`); ohne: alle.")
@database_option
@pass_ctx
@handle_errors
def users_end_sessions(ctx: Context, username: str, session_id: int | None,
                       database_url: str | None) -> None:
    """Beendet eine oder alle Sitzungen eines Kontos sofort."""
    ended = _change(ctx, database_url, username,
                    lambda uow, user_id: services.end_sessions(uow, cli_who(), user_id,
                                                               session_id, via=VIA))
    click.echo(f"{len(ended)} Sitzung(en) von {username.strip().lower()} beendet")


@main.group()
def apikeys() -> None:
    """API-Schlüssel institutioneller Prüfer (z. B. Polizei)."""


@apikeys.command("create")
@click.option("--name", required=True, help="Wem der Schlüssel gehört, z. B. „Polizei Aachen“.")
@database_option
@pass_ctx
@handle_errors
def apikeys_create(ctx: Context, name: str, database_url: str | None) -> None:
    """Erzeugt einen API-Schlüssel und zeigt ihn einmalig an (gespeichert wird nur sein Hash)."""
    if not name.strip():
        raise InputError("--name darf nicht leer sein")
    with _uow(ctx, database_url) as uow:
        record, key = services.create_api_key(uow, cli_who(), name, via=VIA)
        uow.commit()
    click.echo(f"API-Schlüssel {record.id} für {record.name} – wird nur jetzt angezeigt:", err=True)
    click.echo(key)


@apikeys.command("list")
@json_option
@database_option
@pass_ctx
@handle_errors
def apikeys_list(ctx: Context, as_json: bool, database_url: str | None) -> None:
    """Zeigt alle API-Schlüssel (nur ihren Anfang, nie den Schlüssel), auch gesperrte."""
    with _uow(ctx, database_url) as uow:
        keys = services.list_api_keys(uow, cli_who())
    if as_json:
        _echo_json([{"id": k.id, "name": k.name, "prefix": k.prefix, "active": k.active,
                     "createdAt": _time(k.created_at), "revokedAt": _time(k.revoked_at),
                     "lastUsedAt": _time(k.last_used_at)} for k in keys])
        return
    for k in keys:
        state = "aktiv" if k.active else f"gesperrt seit {de(k.revoked_at)}" \
            if k.revoked_at else "gesperrt"
        used = f", zuletzt benutzt {de(k.last_used_at)}" if k.last_used_at else ""
        click.echo(f"{k.id:>5}  {k.prefix}…  {k.name}  {state}{used}")


@apikeys.command("revoke")
@click.argument("api_key_id", metavar="ID", type=click.IntRange(min=1))
@database_option
@pass_ctx
@handle_errors
def apikeys_revoke(ctx: Context, api_key_id: int, database_url: str | None) -> None:
    """Sperrt einen API-Schlüssel endgültig; er wird ab sofort abgewiesen."""
    with _uow(ctx, database_url) as uow:
        key = services.revoke_api_key(uow, cli_who(), api_key_id, via=VIA)
        uow.commit()
    click.echo(f"API-Schlüssel {key.id} ({key.name}) gesperrt")
