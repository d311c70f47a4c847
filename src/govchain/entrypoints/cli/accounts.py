"""`govchain users` and `govchain apikeys`: the service's staff accounts and API keys."""

from __future__ import annotations

import sys

import click

from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain.security import api_key_prefix, hash_password, new_api_key
from govchain.domain.vocabulary import ROLES, Role, is_ags
from govchain.entrypoints.cli.base import (
    MIN_PASSWORD_LENGTH,
    _cli_actor,
    _database,
    handle_errors,
    main,
    pass_ctx,
    service_settings,
)
from govchain.errors import InputError


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
@click.option("--database-url", help="Standard: SQLite im govchain-Verzeichnis.")
@pass_ctx
@handle_errors
def users_add(ctx: Context, role: Role, username: str, municipality: str | None,
              display_name: str | None, password_stdin: bool, database_url: str | None) -> None:
    """Legt ein Benutzerkonto an; das Passwort kommt von der Standardeingabe."""
    if role == "clerk" and (municipality is None or not is_ags(municipality)):
        raise InputError("Sachbearbeiter (--role clerk) brauchen --municipality mit dem "
                         "8-stelligen Gemeindeschlüssel (AGS), z. B. 05334002")
    if role != "clerk" and municipality is not None:
        raise InputError(f"--municipality gilt nur für die Rolle clerk, nicht für {role}")
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen lang sein")
    engine = _database(service_settings(ctx, database_url=database_url))
    try:
        with UnitOfWork(engine) as uow:
            user = uow.users.add(username=username, password_hash=hash_password(password),
                                 role=role, municipality_ags=municipality,
                                 display_name=(display_name or username).strip())
            uow.audit.append(actor=_cli_actor(), actor_kind="anonymous", action="user.add",
                             target=f"user:{user.id}",
                             detail={"username": user.username, "role": role,
                                     "municipality": municipality, "via": "cli"})
            uow.commit()
    finally:
        engine.dispose()
    where = f" der Kommune {municipality}" if municipality else ""
    click.echo(f"Benutzer {user.username} ({role}{where}) angelegt, ID {user.id}")


@main.group()
def apikeys() -> None:
    """API-Schlüssel institutioneller Prüfer (z. B. Polizei)."""


@apikeys.command("create")
@click.option("--name", required=True, help="Wem der Schlüssel gehört, z. B. „Polizei Aachen“.")
@click.option("--database-url", help="Standard: SQLite im govchain-Verzeichnis.")
@pass_ctx
@handle_errors
def apikeys_create(ctx: Context, name: str, database_url: str | None) -> None:
    """Erzeugt einen API-Schlüssel und zeigt ihn einmalig an (gespeichert wird nur sein Hash)."""
    if not name.strip():
        raise InputError("--name darf nicht leer sein")
    key, key_hash = new_api_key()
    engine = _database(service_settings(ctx, database_url=database_url))
    try:
        with UnitOfWork(engine) as uow:
            record = uow.api_keys.add(name=name.strip(), prefix=api_key_prefix(key),
                                      key_hash=key_hash)
            uow.audit.append(actor=_cli_actor(), actor_kind="anonymous", action="apikey.create",
                             target=f"api_key:{record.id}",
                             detail={"name": record.name, "prefix": record.prefix, "via": "cli"})
            uow.commit()
    finally:
        engine.dispose()
    click.echo(f"API-Schlüssel {record.id} für {record.name} – wird nur jetzt angezeigt:", err=True)
    click.echo(key)
