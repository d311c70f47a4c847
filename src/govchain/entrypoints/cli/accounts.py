"""`govchain users` and `govchain apikeys`: the service's staff accounts and API keys."""

from __future__ import annotations

import sys

import click

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.bootstrap import open_database
from govchain.domain.vocabulary import ROLES, Role
from govchain.entrypoints.cli.base import (
    cli_who,
    handle_errors,
    main,
    pass_ctx,
    service_settings,
)
from govchain.errors import InputError, ValidationError


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
    password = sys.stdin.readline().rstrip("\r\n")
    new = services.NewUser(username, password, role, municipality, display_name)
    engine = open_database(service_settings(ctx, database_url=database_url))
    try:
        with UnitOfWork(engine) as uow:
            try:
                user = services.add_user(uow, cli_who(), new, via="cli")
            except ValidationError as err:  # named by the command's options
                raise InputError("; ".join(f"--{name}: {message}"
                                           for name, message in err.errors)) from None
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
    engine = open_database(service_settings(ctx, database_url=database_url))
    try:
        with UnitOfWork(engine) as uow:
            record, key = services.create_api_key(uow, cli_who(), name,
                                                  via="cli")
            uow.commit()
    finally:
        engine.dispose()
    click.echo(f"API-Schlüssel {record.id} für {record.name} – wird nur jetzt angezeigt:", err=True)
    click.echo(key)
